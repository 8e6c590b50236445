// What changed in the fleet metadata since the host last looked. Adding or removing a group touches
// that group alone, so the host need not scan every replica it holds on each of them: with
// thousands of groups, a full scan per added group made adding N groups cost O(N^2) (bench,
// add-groups at 5,000: 75% of the hosts' CPU). A change to the hosts (placement moves everywhere)
// or a whole new state (a snapshot installed) still asks for a full scan.

import type { StateMachine } from '../group/state-machine.js';
import { clusterMachine, type ClusterCommand, type ClusterQuery, type ClusterReply, type ClusterState } from './cluster-machine.js';

/** Beyond this many groups changed at once, one full scan is as cheap and bounds the set. */
const MAX_TRACKED = 4096;

export class MetadataChanges {
  private readonly groups = new Set<string>();
  private everything = true;

  /** A command the cluster machine applied (refused ones too: they may be harmless to look at). */
  applied(cmd: ClusterCommand): void {
    if ((cmd.op === 'addGroup' || cmd.op === 'removeGroup') && this.groups.size < MAX_TRACKED) this.groups.add(cmd.name);
    else this.everything = true;
  }

  /** Anything may have changed: the next look is a full scan. */
  all(): void {
    this.everything = true;
  }

  /** The names of the groups changed since the last take(), or null for "look at everything". */
  take(): ReadonlySet<string> | null {
    const changed = this.everything ? null : new Set(this.groups);
    this.everything = false;
    this.groups.clear();
    return changed;
  }
}

/** The cluster machine, reporting every command it applies and every snapshot it restores to `changes`. */
export function watchedClusterMachine(changes: MetadataChanges): StateMachine<ClusterState, ClusterCommand, ClusterReply, ClusterQuery> {
  return {
    ...clusterMachine,
    command(state, cmd) {
      changes.applied(cmd);
      return clusterMachine.command(state, cmd);
    },
    restore(bytes) {
      changes.all();
      return clusterMachine.restore(bytes);
    },
  };
}

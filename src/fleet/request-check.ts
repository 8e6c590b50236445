// What a host checks of a client request before serving it: the request may come from any peer
// that knows the secret, over the wire, by routers of other versions or by hand, so the host does
// not rely on the sender's router having checked it. A request that could never succeed is
// answered with its typed error at once: left to the serving code, a bad group name found no
// replica and was answered NOT_LEADER, which the sender's router followed from host to host until
// its deadline (issue 14: TIMEOUT after 5 s instead of BAD_NAME), and an oversized command sent to
// a follower was answered NOT_LEADER rather than refused.

import { OPS_GROUP } from './ops-protocol.js';
import { FlotillaError } from '../common/errors.js';
import { utf8Length } from '../group/binary.js';
import { MAX_CLIENT_ID_BYTES } from '../group/sessions.js';
import type { ClientRequestItem } from '../transport/items.js';
import { CLUSTER_GROUP } from './cluster-machine.js';
import { overLimit, type FleetLimits } from './limits.js';
import { validateName } from './names.js';

/** The reserved groups: not valid user names, but served. */
const RESERVED_GROUPS: ReadonlySet<string> = new Set([CLUSTER_GROUP, OPS_GROUP]);

/** Throws the FlotillaError (BAD_NAME, BAD_ARGUMENT) a request deserves, or returns if it may be served. */
export function checkRequest(item: ClientRequestItem, limits: Pick<FleetLimits, 'maxCommandBytes' | 'maxQueryBytes'>): void {
  if (!RESERVED_GROUPS.has(item.group)) validateName('group', item.group);
  if (item.requestKind === 'command' && item.payload.length > limits.maxCommandBytes) {
    throw overLimit(`group ${item.group}: the command`, item.payload.length, 'maxCommandBytes', limits.maxCommandBytes);
  }
  if (item.requestKind !== 'command' && item.payload.length > limits.maxQueryBytes) {
    throw overLimit(`group ${item.group}: the ${item.requestKind}`, item.payload.length, 'maxQueryBytes', limits.maxQueryBytes);
  }
  if (utf8Length(item.clientId) > MAX_CLIENT_ID_BYTES) {
    throw new FlotillaError('BAD_ARGUMENT', `the client id is ${utf8Length(item.clientId)} bytes, more than ${MAX_CLIENT_ID_BYTES}`);
  }
}

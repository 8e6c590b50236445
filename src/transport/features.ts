// What a host's transport reads beyond the items every version of the protocol does, announced in
// the handshake (hello and challenge, 0 from hosts that predate the field), so a host sends a newer
// kind of item only to peers that read it and a rolling upgrade keeps old and new hosts talking.
// The field is not in the authenticated transcript (hosts that predate it compute the transcript
// without it): a man in the middle who strips it can only make two hosts fall back to base items.

/** The peer reads 'raftPack' items (raft-pack.ts). */
export const RAFT_PACK = 1;

/** Everything this code reads. */
export const FEATURES = RAFT_PACK;

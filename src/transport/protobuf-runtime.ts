// The protobufjs runtime, configured once for this project before any generated code runs: uint64
// fields decode to plain JS numbers instead of Long objects (the codec then rejects anything above
// 2^53 - 1). The generated module imports protobufjs through this file (see scripts/gen-proto.mjs),
// so the configuration is in place before its prototype defaults are evaluated.
import protobuf from 'protobufjs/minimal.js';

// The typings do not admit null; the runtime checks `util.Long` for exactly this.
(protobuf.util as { Long: unknown }).Long = null;
protobuf.configure();

export default protobuf;

// Generates static protobuf code from proto/ into src/transport/generated/ (not committed).
// Filled in by the transport work; until then there is no schema to generate.

// A state machine's throw as its caller sees it: COMMAND_FAILED with the error's message and, when
// the thrown error has a string `code` (common/errors.ts MachineError, or any error with one), that
// code and its `details` as JSON text. What is recorded depends on the thrown value alone, so every
// replica records the same failure, a session saves it for retries (sessions.ts), and the leader's
// own caller, a forwarded command and a client over the wire all get the same fields.
//
// Both are bounded: a code is a short identifier (1 to MAX_MACHINE_CODE_BYTES), details at most
// MAX_MACHINE_DETAILS_BYTES of JSON. They are constants, not options, because every replica must
// decide the same: a code or details out of bounds (or details without a JSON encoding) give a
// COMMAND_FAILED without code and details, whose message says what was dropped and why, so a
// service branching on codes never sees a code whose details went missing.

import { FlotillaError, MAX_MACHINE_CODE_BYTES, MAX_MACHINE_DETAILS_BYTES, type MachineFault } from '../common/errors.js';
import { utf8Length } from './binary.js';
import { checkJsonDepth, toJsonText } from './json-value.js';

/** A failed command or query as it is recorded and sent: the message, and what the machine's error said of itself. */
export interface Failure {
  error: string;
  machineCode?: string;
  /** JSON text; only with machineCode. */
  machineDetails?: string;
}

const encoder = new TextEncoder();

/** What a machine's throw of `err` records, the same on every replica. */
export function machineFailure(err: unknown): Failure {
  const error = errorText(err);
  let code: unknown;
  let details: unknown;
  try {
    if (err === null || typeof err !== 'object') return { error };
    code = (err as { code?: unknown }).code;
    if (typeof code !== 'string') return { error };
    details = (err as { details?: unknown }).details;
  } catch {
    // A throwing getter: the error says nothing more about itself.
    return { error };
  }
  const dropped = (why: string): Failure => ({ error: `${error} (the machine's error code and details were dropped: ${why})` });
  if (code === '' || utf8Length(code) > MAX_MACHINE_CODE_BYTES) return dropped(`a code is 1 to ${MAX_MACHINE_CODE_BYTES} UTF-8 bytes, this one is ${utf8Length(code)}`);
  if (details === undefined) return { error, machineCode: code };
  let text: string;
  try {
    text = toJsonText(details, 'its details');
    const bytes = encoder.encode(text);
    if (bytes.length > MAX_MACHINE_DETAILS_BYTES) return dropped(`its details are ${bytes.length} bytes of JSON, more than ${MAX_MACHINE_DETAILS_BYTES}`);
    checkJsonDepth(bytes, 'its details');
  } catch (e) {
    return dropped(errorText(e));
  }
  return { error, machineCode: code, machineDetails: text };
}

/** The fault a FlotillaError carries for a recorded machine code and details (JSON text). */
export function machineFault(machineCode: string | undefined, machineDetails: string | undefined): MachineFault | undefined {
  if (machineCode === undefined) return undefined;
  if (machineDetails === undefined) return { code: machineCode };
  try {
    return { code: machineCode, details: JSON.parse(machineDetails) as unknown };
  } catch {
    // Only bytes no machineFailure wrote (the wire checks what it brings): the code alone.
    return { code: machineCode };
  }
}

/** The COMMAND_FAILED a caller gets for `failure`. */
export function failureError(failure: Failure, facts: Record<string, unknown>): FlotillaError {
  return new FlotillaError('COMMAND_FAILED', failure.error, facts, machineFault(failure.machineCode, failure.machineDetails));
}

/** The fields of a FlotillaError's machine fault to record or send again (machineDetails as JSON text). */
export function faultFields(err: FlotillaError): Omit<Failure, 'error'> {
  if (err.machineCode === undefined) return {};
  return err.machineDetails === undefined ? { machineCode: err.machineCode } : { machineCode: err.machineCode, machineDetails: JSON.stringify(err.machineDetails) };
}

function errorText(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'the machine threw a value that has no text';
  }
}

/**
 * How `connect` reads stdin and writes stdout. The two are chosen apart:
 * what stdin is decides how it is cut into messages, and what stdout is
 * decides whether the peer's bytes may reach it unchanged. A terminal is
 * never handed what a peer sent raw unless the user asked for raw bytes, as
 * a peer that can print control sequences can drive the terminal.
 */

/** How the messages received reach stdout. */
export type Output =
  /** Unchanged, nothing added: byte-exact for a pipe or a file. */
  | 'raw'
  /** One message a line, unchanged. */
  | 'lines'
  /** One message a line, control and bidi characters escaped: safe on a terminal. */
  | 'escaped';

export interface Modes {
  /** stdin is split into lines, one text message each; else its chunks are binary messages. */
  readonly lineInput: boolean;
  readonly output: Output;
}

export interface ModeChoice {
  /** `--line` */
  readonly line: boolean;
  /** `--binary` or `--raw` */
  readonly binary: boolean;
  /** `-0/--nul` */
  readonly nul: boolean;
  readonly stdinIsTTY: boolean;
  readonly stdoutIsTTY: boolean;
}

export function chooseModes(c: ModeChoice): Modes {
  const lineInput = c.line || c.nul || (!c.binary && c.stdinIsTTY);
  if (lineInput) return { lineInput, output: c.stdoutIsTTY ? 'escaped' : 'lines' };
  // Binary because stdin is a pipe (`echo hi | wsstream connect URL`) says nothing about
  // stdout: on a terminal the messages are shown escaped. Only --binary asked for raw bytes.
  return { lineInput, output: c.stdoutIsTTY && !c.binary ? 'escaped' : 'raw' };
}

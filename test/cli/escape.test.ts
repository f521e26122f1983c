/**
 * What reaches a terminal in line mode: control sequences escaped, so a peer
 * cannot drive the terminal, and the escaping cannot be forged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeBytes, escapeText, writeDiagnostic } from '../../src/cli/escape.js';
import { formatLine } from '../../src/cli/lines.js';

describe('escapeText', () => {
  it('escapes ESC sequences, C0 and C1 controls, DEL and newlines', () => {
    assert.equal(escapeText('\u001b[2J\u001b]0;title\u0007'), '\\x1b[2J\\x1b]0;title\\x07');
    assert.equal(escapeText('a\nb\r\tc\u0000\u007f\u009b'), 'a\\nb\\r\\tc\\x00\\x7f\\x9b');
  });
  it('escapes bidirectional overrides and isolates (Trojan Source) and line separators', () => {
    assert.equal(escapeText('x\u202ey\u2066z\u2028'), 'x\\u202ey\\u2066z\\u2028');
  });
  it('escapes the invisible bidi marks: LRM, RLM and the Arabic letter mark', () => {
    assert.equal(escapeText('a\u200eb\u200fc\u061cd'), 'a\\u200eb\\u200fc\\u061cd');
    assert.equal(escapeBytes(Buffer.from('1\u200f-2')), '1\\u200f-2');
    assert.equal(formatLine('\u05d0\u200e.', true).toString(), '\u05d0\\u200e.\n');
  });
  it('escapes the backslash, so an escape in the data cannot pass for one of ours', () => {
    assert.equal(escapeText('\\x1b'), '\\\\x1b');
  });
  it('leaves printable text alone, accents and emoji included', () => {
    assert.equal(escapeText('héllo wörld ✓ 🎉'), 'héllo wörld ✓ 🎉');
  });
});

describe('escapeBytes', () => {
  it('shows valid UTF-8 as escaped text', () => {
    assert.equal(escapeBytes(Buffer.from('ok\u001b[31m')), 'ok\\x1b[31m');
  });
  it('shows other bytes as \\xNN, printable ASCII as is', () => {
    assert.equal(escapeBytes(Buffer.from([0x41, 0xff, 0x1b, 0x5c, 0x00])), 'A\\xff\\x1b\\\\\\x00');
  });
});

describe('writeDiagnostic', () => {
  it('escapes the bidi marks as in messages, the backslash left alone', () => {
    const written: string[] = [];
    writeDiagnostic({ write: (text: string) => written.push(text) }, 'r\u200fe\u061cason \\');
    assert.deepEqual(written, ['wsstream: r\\u200fe\\u061cason \\\n']);
  });
});

describe('formatLine', () => {
  it('on a terminal: one escaped line per message', () => {
    assert.equal(formatLine('two\nlines\u001b[H', true).toString(), 'two\\nlines\\x1b[H\n');
    assert.equal(formatLine(Buffer.from([0xc3, 0x28]), true).toString(), '\\xc3(\n');
  });
  it('in a pipe: the message unchanged, then a newline', () => {
    assert.deepEqual(formatLine('a\u001bb', false), Buffer.from('a\u001bb\n'));
    assert.deepEqual(formatLine(Buffer.from([0xff]), false), Buffer.from([0xff, 0x0a]));
  });
});

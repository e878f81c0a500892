import { Prng } from './prng';

/*
 * The hostile values. Strings go into JSON string fields and (URL-encoded) into queries; path values
 * are written into the URL as they are, so some are deliberately not encoded ("../", a bare "%").
 */
export const hostileStrings = (rng: Prng, iterations: number): Array<[string, string]> => [
  ['emoji', 'release 😀🚀👩‍👩‍👧'],
  ['rtl', '\u200fשלום\u202eevil'],
  ['nul', 'a\u0000b'],
  ['lone-high-surrogate', 'a\ud800b'],
  ['lone-low-surrogate', '\udfffz'],
  ['crlf', 'a\r\nb'],
  ['header-injection', 'v1\r\nX-Injected: 1'],
  ['tab-and-controls', 'a\tb\u0007\u001b[31m'],
  ['bom-zero-width', '\ufeff\u200bx'],
  ['sql', "'; DROP TABLE x;--"],
  ['sql-or', '1 OR 1=1'],
  ['traversal', '../../etc/passwd'],
  ['very-long', 'x'.repeat(100_000)],
  ['combining', 'e\u0301'.repeat(2000)],
  ...Array.from({ length: iterations }, (_, i): [string, string] => [
    `random-unicode-${i}`,
    randomUnicode(rng, rng.int(1, 300)),
  ]),
];

/** Code points from every plane, lone surrogates and controls included. */
export function randomUnicode(rng: Prng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    const range = rng.pick([
      [0, 0x7f],
      [0x80, 0x7ff],
      [0x800, 0xffff],
      [0x10000, 0x10ffff],
      [0xd800, 0xdfff],
    ] as const);
    out += String.fromCodePoint(rng.int(range[0], range[1]));
  }
  return out;
}

export const hostileNumbers: Array<[string, unknown]> = [
  ['huge', 1e308],
  ['beyond-int64', 9223372036854775808],
  ['negative', -1],
  ['zero', 0],
  ['fraction', 1.5],
  ['nan-string', 'NaN'],
  ['numeric-string', '1'],
  ['bool', true],
  ['object', { $gt: 0 }],
];

export const hostilePathValues = (rng: Prng, iterations: number): Array<[string, string]> => [
  ['traversal-raw', '../../etc/passwd'],
  ['traversal-encoded', '..%2F..%2Fetc%2Fpasswd'],
  ['traversal-dots', '%2e%2e%2f'],
  ['dot-dot', '%2e%2e'],
  ['overlong-utf8', '%C0%AE%C0%AE%2F'],
  ['sql-or', encodeURIComponent('1 OR 1=1')],
  ['sql-drop', encodeURIComponent("'; DROP TABLE x;--")],
  ['huge-number', '99999999999999999999999'],
  ['beyond-int64', '9223372036854775808'],
  ['negative', '-1'],
  ['zero', '0'],
  ['nan', 'NaN'],
  ['exponent', '1e3'],
  ['emoji', encodeURIComponent('😀')],
  ['rtl', encodeURIComponent('\u202e1')],
  ['nul', '%00'],
  ['nul-suffix', '1%00'],
  ['crlf', 'a%0D%0Ab'],
  ['very-long', 'x'.repeat(8000)],
  ['invalid-utf8', '%ff%fe'],
  ['bare-percent', '%'],
  ...Array.from({ length: iterations }, (_, i): [string, string] => [
    `random-unicode-${i}`,
    encodeURIComponent(randomUnicode(rng, rng.int(1, 40)).replace(/[\ud800-\udfff]/g, 'x')),
  ]),
];

/** Query strings for parameter `name`: hostile values, repeated and bracketed forms, an oversized one. */
export const hostileQueries = (name: string, rng: Prng, iterations: number): Array<[string, string]> => [
  ...hostilePathValues(rng, iterations).map(([label, value]): [string, string] => [label, `${name}=${value}`]),
  ['repeated', `${name}=1&${name}=2`],
  ['brackets', `${name}[]=1`],
  ['nested-brackets', `${name}[a][b][c]=1`],
  ['empty', `${name}=`],
  ['no-value', name],
  ['header-overflow', `${name}=${'x'.repeat(20_000)}`],
];

/** Whether a path or query value decodes to something that must never be stored (NUL). */
export const carriesNul = (raw: string): boolean => /%00/i.test(raw);

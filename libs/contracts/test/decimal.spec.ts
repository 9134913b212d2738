import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDecimal } from '@portcullis/contracts';

describe('parseDecimal', () => {
  it('reads decimal digits', () => {
    for (const [text, n] of [
      ['0', 0],
      ['7', 7],
      ['60', 60],
      ['007', 7],
      ['123456789012345', 123456789012345],
    ] as const)
      assert.equal(parseDecimal(text), n, text);
  });
  it('refuses what Number() and parseInt() let through', () => {
    for (const text of [
      '',
      ' ',
      '0x10',
      '0X10',
      '0b11',
      '0o7',
      '1e1',
      '1E1',
      '+5',
      '-1',
      ' 5',
      '5 ',
      '\t5',
      '5\n',
      '5.0',
      '.5',
      '12abc',
      'Infinity',
      'NaN',
      '١٢',
      '1_000',
      '1234567890123456',
    ]) {
      assert.equal(parseDecimal(text), undefined, JSON.stringify(text));
    }
  });
});

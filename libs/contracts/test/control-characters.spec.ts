import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { controlCharacterProblem, findControlCharacter, withoutControlCharacters } from '@portcullis/contracts';

describe('control characters', () => {
  it('refuses C0 (but tab, line feed, carriage return), DEL and C1, naming the code point and index', () => {
    for (const code of [0x00, 0x07, 0x0b, 0x1b, 0x1f, 0x7f, 0x85, 0x9f]) {
      assert.match(
        controlCharacterProblem(`ab${String.fromCharCode(code)}`) ?? '',
        new RegExp(`U\\+${code.toString(16).toUpperCase().padStart(4, '0')} at index 2`),
      );
    }
    assert.match(controlCharacterProblem('\u0000') ?? '', /NUL cannot be stored/);
    for (const fine of ['plain', 'two\nlines\r\n', 'tab\there', 'Déjà vu', '\u202Ebidi is not a control character', ''])
      assert.equal(controlCharacterProblem(fine), undefined, JSON.stringify(fine));
  });

  it('finds the first one in a JSON-like value, keys included, naming its path', () => {
    assert.deepEqual(findControlCharacter({ a: [1, 'ok', { b: 'x\u0001' }] }, 'input'), {
      path: 'input.a[2].b',
      problem: 'contains the control character U+0001 at index 1',
    });
    assert.equal(findControlCharacter({ ['k\u0000']: 1 }, '')!.path, '<key>');
    assert.equal(findControlCharacter({ a: { b: 1, c: ['x'] } }, ''), undefined);
    assert.equal(findControlCharacter(Buffer.from('\u0000'), 'body'), undefined, 'bytes are not text');
  });

  it('walks a value nested 100,000 deep without overflowing the stack, and stops at the node bound', () => {
    let deep: unknown = 'end\u0007';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.match(findControlCharacter(deep, 'v')!.path, /^v(\[0\]){100000}$/);
    assert.deepEqual(
      findControlCharacter(
        Array.from({ length: 20 }, () => 'x'),
        'list',
        10,
      ),
      { path: 'list', problem: 'holds more than 10 values' },
    );
  });

  it('replaces them with spaces for senders of free text', () => {
    assert.equal(withoutControlCharacters('a\u0000b\u001b[31mc\nd'), 'a b [31mc\nd');
  });
});

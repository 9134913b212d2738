import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileCel, escapeFieldName, fromCelValue, rewriteOptionals, toCelValue } from '@portcullis/testing';

/** evaluates an expression and returns its value as plain JS (bigint ints, quantities as {quantity}) */
function cel(expression: string, vars: Record<string, unknown> = {}): unknown {
  const bindings = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, toCelValue(v)]));
  return fromCelValue(compileCel(expression)(bindings));
}

function celError(expression: string, vars: Record<string, unknown> = {}): string {
  try {
    cel(expression, vars);
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`${expression} did not fail`);
}

/** every case is `expression == expected` evaluated by CEL itself, or a value compared in JS */
function truths(cases: readonly string[]): void {
  for (const c of cases) assert.equal(cel(c), true, c);
}

describe('Kubernetes CEL: quantity library (resource.Quantity semantics)', () => {
  it('parses the decimal SI, binary SI and exponent forms exactly', () => {
    truths([
      "quantity('1Ki') == quantity('1024')",
      "quantity('1k') == quantity('1000')",
      "quantity('1e3') == quantity('1k')",
      "quantity('1E3') == quantity('1k')",
      "quantity('1.5') == quantity('1500m')",
      "quantity('100m') == quantity('0.1')",
      "quantity('1Mi') == quantity('1048576')",
      "quantity('1Gi').compareTo(quantity('1G')) == 1",
      "quantity('50M').compareTo(quantity('50Mi')) == -1",
      "quantity('1') == quantity('1.0')",
      "quantity('+1') == quantity('1')",
      "quantity('0.5Gi') == quantity('512Mi')",
    ]);
  });

  it('rounds up to a nano and refuses what ParseQuantity refuses', () => {
    truths([
      "quantity('0.1n') == quantity('1n')",
      "quantity('-0.1n') == quantity('-1n')",
      "quantity('1n').sign() == 1",
      "quantity('0').sign() == 0",
      "quantity('-1m').sign() == -1",
    ]);
    for (const bad of ['', '1K', '1.5.5', 'one', '1 Gi', '1ki', '1e', '1Gi2']) {
      assert.equal(cel('isQuantity(s)', { s: bad }), false, bad);
      assert.match(celError('quantity(s)', { s: bad }), /quantit/, bad);
    }
    for (const good of ['0', '1', '1.', '.5', '-1', '1Ei', '1e-3', '12E+2', '500Mi', '2.5'])
      assert.equal(cel('isQuantity(s)', { s: good }), true, good);
  });

  it('isInteger/asInteger/asApproximateFloat/add/sub/isLessThan/isGreaterThan', () => {
    truths([
      "quantity('50k').isInteger()",
      "!quantity('1.5').isInteger()",
      "quantity('50k').asInteger() == 50000",
      "quantity('1.5G').asInteger() == 1500000000",
      "quantity('50.5').asApproximateFloat() == 50.5",
      "quantity('200M').add(quantity('50k')) == quantity('200.05M')",
      "quantity('50k').add(20) == quantity('50020')",
      "quantity('5Gi').sub(quantity('1Gi')) == quantity('4Gi')",
      "quantity('50k').sub(20) == quantity('49980')",
      "quantity('1Gi').isGreaterThan(quantity('1G'))",
      "quantity('100m').isLessThan(quantity('1'))",
      "!quantity('1').isLessThan(quantity('1000m'))",
    ]);
    assert.match(celError("quantity('1.5').asInteger()"), /integer/);
    assert.match(celError("quantity('1').compareTo(1)"), /no such overload/);
    assert.match(celError("'1'.isLessThan(quantity('1'))"), /no such overload|quantity/);
  });
});

describe('Kubernetes CEL: lists library', () => {
  it('sum, min, max, isSorted, indexOf, lastIndexOf', () => {
    truths([
      '[1, 2, 3].sum() == 6',
      '[1.5, 2.5].sum() == 4.0',
      '[].sum() == 0',
      '[1, 2, 3].isSorted()',
      '![1, 3, 2].isSorted()',
      "['a', 'b', 'b'].isSorted()",
      '[].isSorted()',
      '[3, 1, 2].min() == 1',
      '[3, 1, 2].max() == 3',
      "['b', 'a', 'c'].min() == 'a'",
      '[1, 2, 2, 3].indexOf(2) == 1',
      '[1, 2, 2, 3].lastIndexOf(2) == 2',
      '[1, 2].indexOf(5) == -1',
      '[[1], [2]].indexOf([2]) == 1',
    ]);
    assert.match(celError('[].min()'), /min called on empty list/);
    assert.match(celError('[].max()'), /max called on empty list/);
    assert.match(celError("[1, 'a'].isSorted()"), /no such overload/);
  });
});

describe('Kubernetes CEL: regex and strings', () => {
  it('find and findAll with RE2 leftmost-first semantics', () => {
    truths([
      "'abc 123'.find('[0-9]+') == '123'",
      "'abc'.find('xyz') == ''",
      "'123 abc 456'.findAll('[0-9]+') == ['123', '456']",
      "'123 abc 456'.findAll('[0-9]+', 1) == ['123']",
      "'123 abc 456'.findAll('[0-9]+', 0) == []",
      "'ab'.find('a|ab') == 'a'",
      "'registry.example.com/app:1'.matches('^registry\\\\.example\\\\.com/')",
    ]);
    assert.match(celError("'x'.find('(')"), /missing|error|parse/i);
  });

  it('the extended strings library', () => {
    truths([
      "'TacoCat'.lowerAscii() == 'tacocat'",
      "'TacoCÆt'.upperAscii() == 'TACOCÆT'",
      "'a,b,c'.split(',') == ['a', 'b', 'c']",
      "'a,b,c'.split(',', 2) == ['a', 'b,c']",
      "['a', 'b'].join('-') == 'a-b'",
      "['a', 'b'].join() == 'ab'",
      "'  x \\t'.trim() == 'x'",
      "'tacocat'.substring(4) == 'cat'",
      "'tacocat'.substring(0, 4) == 'taco'",
      "'hello mellow'.indexOf('ello') == 1",
      "'hello mellow'.lastIndexOf('ello') == 7",
      "'hello hello'.replace('he', 'we') == 'wello wello'",
      "'hello hello'.replace('he', 'we', 1) == 'wello hello'",
      "'hello'.replace('l', 'L', -1) == 'heLLo'",
      "'hello'.replace('l', 'L', 0) == 'hello'",
      "'abc'.replace('', '_') == '_a_b_c_'",
      "'a,b,c'.split(',', 0) == []",
      "'a,b,c'.split(',', 1) == ['a,b,c']",
      "'a,b,c'.split(',', -1) == ['a', 'b', 'c']",
      "'abc'.split('') == ['a', 'b', 'c']",
      "'abc'.split('', 2) == ['a', 'bc']",
      "'nginx:1.27'.startsWith('nginx') && 'nginx:1.27'.endsWith('.27') && 'nginx:1.27'.contains(':')",
    ]);
  });
});

describe('CEL optionals, as Kubernetes enables them', () => {
  const obj = { spec: { securityContext: { runAsNonRoot: true }, containers: [{ name: 'a' }] } };

  it('.? and [?] give optionals that chain; orValue/hasValue/value/or', () => {
    assert.equal(cel('o.spec.?securityContext.?runAsNonRoot.orValue(false)', { o: obj }), true);
    assert.equal(cel('o.spec.?hostNetwork.orValue(false)', { o: obj }), false);
    // once optional, later selections are optional too
    assert.equal(cel("o.?status.phase.orValue('none')", { o: obj }), 'none');
    assert.equal(cel('o.spec.?securityContext.runAsUser.orValue(-1)', { o: obj }), -1n);
    assert.equal(cel("o.spec.containers[?0].name.orValue('')", { o: obj }), 'a');
    assert.equal(cel("o.spec.containers[?5].name.orValue('')", { o: obj }), '');
    assert.equal(cel("o.spec[?'securityContext'].hasValue()", { o: obj }), true);
    assert.equal(cel('o.spec.?nothing.hasValue()', { o: obj }), false);
    assert.match(celError('o.spec.?nothing.value()', { o: obj }), /optional\.none\(\) dereference/);
    truths([
      'optional.of(1).value() == 1',
      'optional.none().orValue(2) == 2',
      'optional.none().or(optional.of(3)).value() == 3',
      "optional.ofNonZeroValue('').hasValue() == false",
      'optional.of(1) == optional.of(1)',
      'optional.none() != optional.of(1)',
    ]);
    // a plain selection of a missing field stays an error, has() stays false
    assert.match(celError('o.spec.hostNetwork', { o: obj }), /hostNetwork/);
    assert.equal(cel('has(o.spec.hostNetwork)', { o: obj }), false);
  });

  it('the rewrite leaves string literals alone and refuses optional literal entries', () => {
    assert.equal(rewriteOptionals("'a.?b' + x.?c"), '\'a.?b\' + x._opt_select_("c")');
    assert.equal(cel("'a.?b[?0]'.size()"), 8n);
    assert.throws(() => compileCel('[?x]'), /not supported/);
    assert.throws(() => compileCel("{?'k': x}"), /not supported/);
  });
});

describe("Kubernetes' property-name escaping", () => {
  it('escapes reserved words and special characters as escaping.go does', () => {
    assert.equal(escapeFieldName('namespace'), '__namespace__');
    assert.equal(escapeFieldName('in'), '__in__');
    assert.equal(escapeFieldName('foo__bar'), 'foo__underscores__bar');
    assert.equal(escapeFieldName('a.b-c/d'), 'a__dot__b__dash__c__slash__d');
    assert.equal(escapeFieldName('containers'), 'containers');
    assert.equal(escapeFieldName('1abc'), undefined);
    assert.equal(escapeFieldName('a b'), undefined);
  });
});

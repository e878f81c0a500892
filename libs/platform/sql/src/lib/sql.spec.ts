import { AfterCommit, shiftPlaceholders, withStatements } from './sql';

describe('shiftPlaceholders', () => {
  it('renumbers every $n, two-digit ones included, and leaves the rest of the text alone', () => {
    expect(shiftPlaceholders("select $1, $2::jsonb, $10, '$ sign'", 3)).toBe("select $4, $5::jsonb, $13, '$ sign'");
    expect(shiftPlaceholders('select $1', 0)).toBe('select $1');
  });
});

describe('withStatements', () => {
  it('composes data-modifying statements as CTEs of one statement, parameters in order', () => {
    const composed = withStatements(
      [
        { text: 'insert into a (x, y) values ($1, $2)', params: ['x', 'y'] },
        { text: 'insert into b (z) values ($1)', params: ['z'] },
      ],
      { text: 'select $1::int as n', params: [7] },
    );
    expect(composed.text).toBe(
      'with s0 as (insert into a (x, y) values ($1, $2)), s1 as (insert into b (z) values ($3)) select $4::int as n',
    );
    expect(composed.params).toEqual(['x', 'y', 'z', 7]);
  });

  it('is the final statement alone when there is nothing to compose', () => {
    expect(withStatements([], { text: 'select $1', params: [1] })).toEqual({ text: 'select $1', params: [1] });
  });
});

describe('AfterCommit', () => {
  it('runs every callback once, in order, even when one throws', () => {
    const calls: string[] = [];
    const afterCommit = new AfterCommit();
    afterCommit.add(() => calls.push('a'));
    afterCommit.add(() => {
      throw new Error('wake-up failed');
    });
    afterCommit.add(() => calls.push('c'));
    afterCommit.run();
    afterCommit.run();
    expect(calls).toEqual(['a', 'c']);
  });
});

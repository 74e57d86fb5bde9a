import { describe, expect, it } from 'vitest'
import { conditionProblem } from '../../../src/pg/condition.js'

describe("a where condition's shape", () => {
  it('passes one condition, parentheses in strings, quoted names, comments and dollar quotes not counted', () => {
    for (const ok of [
      'active',
      'id % 3 = 0 AND (domain IS NULL OR domain = $1)',
      "email LIKE '%)%'",
      "note = 'it''s (fine'",
      "note = E'it\\'s )'",
      '"odd)name" > 0',
      '"a""b(" IS NULL',
      'x = $$ ) $$',
      'x = $t$ ( $t$',
      'id > 0 /* a ) comment /* nested ( */ */',
      'id > 0 -- a ) comment\n AND id < 9',
      'price = $1 AND qty > $2',
    ])
      expect(conditionProblem(ok), ok).toBeUndefined()
  })

  it('refuses a condition that closes what it did not open (an endless walk once wrapped), and unclosed ones, in words', () => {
    expect(conditionProblem('id<10) OR (1=1')).toBe('it closes a parenthesis it did not open; it must be one condition')
    expect(conditionProblem('(id < 10')).toBe('a parenthesis is not closed')
    expect(conditionProblem("name = 'x")).toBe('a string (quote) is not closed')
    expect(conditionProblem('"name = 1')).toBe('a quoted name (") is not closed')
    expect(conditionProblem('x = $$ (')).toBe('a dollar-quoted string ($$) is not closed')
    expect(conditionProblem('id > 0 /* open')).toBe('a /* comment is not closed')
    expect(conditionProblem('id > 0 -- the end')).toBe('it ends in a -- comment; put the comment on a line of its own, or leave it out')
    expect(conditionProblem('id > 0; DROP TABLE users')).toBe('it holds a ; (one condition, not statements)')
    // A string's E prefix is a prefix only after a non-name character.
    expect(conditionProblem("some = 'a\\' OR (1 = 1")).toBe('a parenthesis is not closed')
  })
})

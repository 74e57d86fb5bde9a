/**
 * A `where` condition is put in parentheses beside pgTable's own (`(<where>) AND key > $1`):
 * it must be one expression, its parentheses balanced outside strings, quoted names and
 * comments. `id < 10) OR (1 = 1` is valid SQL once wrapped, but reads every row at every
 * page, an endless walk; a condition that closes more than it opens is refused. Pure.
 */

/** What is wrong with `condition` as one parenthesized expression; undefined when nothing is. */
export function conditionProblem(condition: string): string | undefined {
  let depth = 0
  let i = 0
  const n = condition.length
  while (i < n) {
    const c = condition[i]
    const next = condition[i + 1]
    if (c === '-' && next === '-') {
      // A line comment: to the end of the line (a comment at the end would hide the closing parenthesis).
      const end = condition.indexOf('\n', i)
      if (end === -1) return 'it ends in a -- comment; put the comment on a line of its own, or leave it out'
      i = end + 1
    } else if (c === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let nested = 1
      i += 2
      while (i < n && nested > 0) {
        if (condition.startsWith('/*', i)) nested++
        else if (condition.startsWith('*/', i)) nested--
        else {
          i++
          continue
        }
        i += 2
      }
      if (nested > 0) return 'a /* comment is not closed'
    } else if (c === "'") {
      // A string; E'...' strings also escape a quote with a backslash.
      const escapes = i > 0 && /[eE]/.test(condition[i - 1]) && (i < 2 || !/[\w$]/.test(condition[i - 2]))
      i++
      for (;;) {
        if (i >= n) return 'a string (quote) is not closed'
        if (escapes && condition[i] === '\\') i += 2
        else if (condition[i] === "'" && condition[i + 1] === "'") i += 2
        else if (condition[i] === "'") break
        else i++
      }
      i++
    } else if (c === '"') {
      const end = closing(condition, i + 1, '"')
      if (end === -1) return 'a quoted name (") is not closed'
      i = end + 1
    } else if (c === '$' && (i === 0 || !/[\w$]/.test(condition[i - 1]))) {
      // A dollar-quoted string ($$...$$, $tag$...$tag$); $1 is a parameter.
      const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(condition.slice(i))
      if (tag === null) {
        i++
        continue
      }
      const end = condition.indexOf(tag[0], i + tag[0].length)
      if (end === -1) return `a dollar-quoted string (${tag[0]}) is not closed`
      i = end + tag[0].length
    } else {
      if (c === '(') depth++
      else if (c === ')' && --depth < 0) return 'it closes a parenthesis it did not open; it must be one condition'
      else if (c === ';') return 'it holds a ; (one condition, not statements)'
      i++
    }
  }
  if (depth > 0) return 'a parenthesis is not closed'
  return undefined
}

/** The index of the quote closing a quoted run starting at `from` (a doubled quote is one inside it); -1 if none. */
function closing(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] !== quote) continue
    if (text[i + 1] === quote) i++
    else return i
  }
  return -1
}

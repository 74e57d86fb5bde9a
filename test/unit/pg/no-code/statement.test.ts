import { describe, expect, it } from 'vitest'
import { parameterProblem } from '../../../../src/pg/no-code/statement.js'
import type { KeyColumn, Parameter } from '../../../../src/pg/no-code/statement.js'

const ID: KeyColumn = { name: 'id', type: 'bigint', category: 'N' }
const TENANT: KeyColumn = { name: 'tenant_id', type: 'integer', category: 'N' }
const array = (type: string, element: string): Parameter => ({ type, category: 'A', element })

describe('the parameters of sql=, as PostgreSQL inferred them', () => {
  it('each $i an array of the i-th key column type category: no problem (int[] for a bigint key compares alike)', () => {
    expect(parameterProblem([array('bigint[]', 'N')], [ID])).toBeUndefined()
    expect(parameterProblem([array('integer[]', 'N'), array('numeric[]', 'N')], [TENANT, ID])).toBeUndefined()
  })

  it('no $1 (a statement that would update every row at each batch), or too few: what to write instead', () => {
    expect(parameterProblem([], [ID])).toBe(
      "sql= uses no parameter; it must use $1: a batch's keys are $1 = its id values (bigint[]), as in WHERE id = ANY($1)",
    )
    expect(parameterProblem([array('integer[]', 'N')], [TENANT, ID])).toBe(
      "sql= uses $1; it must use $1 to $2: a batch's keys are $1 = its tenant_id values (integer[]), $2 = its id values (bigint[]), as in WHERE (tenant_id, id) IN (SELECT * FROM unnest($1::integer[], $2::bigint[]))",
    )
  })

  it('$1 that is not an array, or an array of another kind than the key (text[] for a bigint key would match nothing)', () => {
    expect(parameterProblem([{ type: 'bigint', category: 'N', element: null }], [ID])).toBe(
      "$1 of sql= is bigint, not an array: a batch's keys are $1 = its id values (bigint[]), as in WHERE id = ANY($1)",
    )
    expect(parameterProblem([array('text[]', 'S')], [ID])).toBe(
      "$1 of sql= is text[], but the key column id is bigint: a batch's keys are $1 = its id values (bigint[]), as in WHERE id = ANY($1)",
    )
  })
})

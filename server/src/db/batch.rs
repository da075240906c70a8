//! Statements over many rows in few shapes: multi-row `VALUES` and `IN (…)` lists whose
//! SQL text takes a handful of forms, so that each form is prepared once and kept in the
//! connection's statement cache instead of being parsed anew for every count of rows.

/// Rows one multi-row `VALUES` writes at most.
const ROWS_PER_STATEMENT: usize = 32;

/// `items` cut into runs for multi-row statements: runs of [`ROWS_PER_STATEMENT`], then the
/// rest as descending powers of two (13 rows: 8, 4, 1). Few shapes of SQL text means each
/// is prepared once and kept in the connection's statement cache; and small statements,
/// because SQLite finds a `$n` parameter by walking the statement's list of names (binding
/// is quadratic in the number of parameters) where the text cannot bind anonymous `?`
/// instead (`Backend::positional`).
pub(crate) fn shaped_chunks<T>(items: &[T]) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let take = if rest.len() >= ROWS_PER_STATEMENT {
            ROWS_PER_STATEMENT
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, after) = rest.split_at(take);
        chunks.push(chunk);
        rest = after;
    }
    chunks
}

/// Values an `IN (…)` list holds at most.
const IN_LIST_MAX: usize = 256;

/// `items` cut into `IN (…)` lists of at most [`IN_LIST_MAX`], each padded to a power of two
/// by repeating its last value (which changes nothing an `IN` matches): a handful of SQL
/// shapes, each prepared once (see [`shaped_chunks`]).
pub(crate) fn in_lists<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    items
        .chunks(IN_LIST_MAX)
        .map(|chunk| {
            let mut list = chunk.to_vec();
            let last = chunk[chunk.len() - 1].clone();
            list.resize(chunk.len().next_power_of_two(), last);
            list
        })
        .collect()
}

/// `($n, $n+1, …), (…)`: `rows` groups of `cols` placeholders numbered from `first`, for a
/// multi-row `VALUES` (or, with `cols` 1, an `IN (…)` list without its parentheses).
pub(crate) fn placeholders(first: usize, rows: usize, cols: usize) -> String {
    let mut sql = String::with_capacity(rows * cols * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        if cols > 1 {
            sql.push('(');
        }
        for col in 0..cols {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(first + row * cols + col).to_string());
        }
        if cols > 1 {
            sql.push(')');
        }
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_into_few_shapes_and_in_lists_padded_without_new_values() {
        let rows: Vec<usize> = (0..77).collect();
        let sizes: Vec<usize> = shaped_chunks(&rows).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [32, 32, 8, 4, 1]);
        assert_eq!(
            shaped_chunks(&rows).concat(),
            rows,
            "every row once, in order"
        );
        assert!(shaped_chunks::<u8>(&[]).is_empty());
        let lists = in_lists(&[5, 6, 7]);
        assert_eq!(lists, [vec![5, 6, 7, 7]]);
        let many: Vec<i64> = (0..300).collect();
        let lists = in_lists(&many);
        assert_eq!(lists.iter().map(Vec::len).collect::<Vec<_>>(), [256, 64]);
        assert_eq!(lists[1][43..], [299; 21]);
        assert_eq!(placeholders(1, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(3, 3, 1), "$3, $4, $5");
    }
}

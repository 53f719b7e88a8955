//! Statements assembled from optional filters: text and binds grow together, so every
//! `$n` placeholder matches its value on SQLite and PostgreSQL alike (sqlx's own
//! `QueryBuilder` writes `?` under the `Any` driver, which PostgreSQL refuses).

/// One bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_string())
    }
}

impl From<&String> for Bind {
    fn from(v: &String) -> Self {
        Bind::Text(v.clone())
    }
}

impl From<&crate::RegionCode> for Bind {
    fn from(v: &crate::RegionCode) -> Self {
        Bind::Text(v.as_str().to_string())
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}

pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// SQL text with its binds, numbered as they are added.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into(), binds: Vec::new() }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the placeholder of a new bind.
    pub fn bind(&mut self, value: impl Into<Bind>) -> &mut Self {
        self.binds.push(value.into());
        let n = self.binds.len();
        self.text.push('$');
        self.text.push_str(&n.to_string());
        self
    }

    /// Appends "$a, $b, …", one bind per value (for `IN (…)`).
    pub fn bind_list<B: Into<Bind>>(&mut self, values: impl IntoIterator<Item = B>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The statement with its values bound, ready to run.
    pub fn query(&self) -> AnyQuery<'_> {
        let mut q = sqlx::query(&self.text);
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_binds() {
        let mut s = Sql::new("SELECT id FROM t WHERE a = ");
        s.bind("x").push(" AND k IN (").bind_list([1_i64, 2]).push(") LIMIT ").bind(10_i64);
        assert_eq!(s.as_str(), "SELECT id FROM t WHERE a = $1 AND k IN ($2, $3) LIMIT $4");
        assert_eq!(s.binds, [Bind::Text("x".into()), Bind::Int(1), Bind::Int(2), Bind::Int(10)]);
    }

    #[tokio::test]
    async fn runs_the_same_on_every_backend() {
        use sqlx::Row;
        for db in crate::testing::TestDb::all(&[]).await {
            let mut s = Sql::new("SELECT COUNT(*) FROM kit_chain WHERE id IN (");
            s.bind_list([1_i64, 2]).push(") AND last_hash = ").bind("");
            let n: i64 = s.query().fetch_one(db.pool()).await.unwrap().try_get(0).unwrap();
            assert_eq!(n, 1);
        }
    }
}

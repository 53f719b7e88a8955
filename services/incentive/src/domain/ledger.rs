//! The double-entry ledger of a pool: every movement of money is an entry whose two
//! postings (minus from one account, plus to another) sum to zero, so the books always
//! balance: budget = available + payable + paid. Reconciliation checks that, and that
//! the pool's stored balance and the awards agree with the ledger.

use cadre_proto::incentive::v1::{Account, EntryKind};

/// Where each kind of entry moves money from and to.
pub fn accounts(kind: EntryKind) -> (Account, Account) {
    match kind {
        EntryKind::Fund => (Account::Budget, Account::Pool),
        EntryKind::Approve => (Account::Pool, Account::Payable),
        EntryKind::Pay => (Account::Payable, Account::Paid),
        EntryKind::Release => (Account::Payable, Account::Pool),
        EntryKind::Unspecified => (Account::Unspecified, Account::Unspecified),
    }
}

/// The two postings of an entry: (account, signed amount).
pub fn postings(kind: EntryKind, amount_fen: i64) -> [(Account, i64); 2] {
    let (from, to) = accounts(kind);
    [(from, -amount_fen), (to, amount_fen)]
}

/// What reconciliation reads: the pool, its postings summed per account, and the awards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Books {
    pub budget_fen: i64,
    pub pool_balance_fen: i64,
    /// Sum of postings per account.
    pub budget_account: i64,
    pub pool_account: i64,
    pub payable_account: i64,
    pub paid_account: i64,
    /// Awards approved and not paid, and paid.
    pub approved_awards_fen: i64,
    pub paid_awards_fen: i64,
}

/// Everything that does not hold; empty when the books balance.
pub fn discrepancies(b: &Books) -> Vec<String> {
    let mut out = Vec::new();
    let sum = b.budget_account + b.pool_account + b.payable_account + b.paid_account;
    if sum != 0 {
        out.push(format!("the postings sum to {sum} fen, not 0"));
    }
    if -b.budget_account != b.budget_fen {
        out.push(format!("the ledger funded {} fen, the budget is {} fen", -b.budget_account, b.budget_fen));
    }
    if b.pool_account + b.payable_account + b.paid_account != b.budget_fen {
        out.push(format!(
            "available {} + payable {} + paid {} ≠ budget {}",
            b.pool_account, b.payable_account, b.paid_account, b.budget_fen
        ));
    }
    if b.pool_account != b.pool_balance_fen {
        out.push(format!(
            "the pool's balance is {} fen, the ledger says {}",
            b.pool_balance_fen, b.pool_account
        ));
    }
    if b.payable_account != b.approved_awards_fen {
        out.push(format!(
            "payable is {} fen, approved awards add up to {}",
            b.payable_account, b.approved_awards_fen
        ));
    }
    if b.paid_account != b.paid_awards_fen {
        out.push(format!("paid is {} fen, paid awards add up to {}", b.paid_account, b.paid_awards_fen));
    }
    if b.pool_account < 0 {
        out.push(format!("the pool is negative: {} fen", b.pool_account));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(b: &mut Books, kind: EntryKind, fen: i64) {
        for (account, amount) in postings(kind, fen) {
            match account {
                Account::Budget => b.budget_account += amount,
                Account::Pool => b.pool_account += amount,
                Account::Payable => b.payable_account += amount,
                Account::Paid => b.paid_account += amount,
                Account::Unspecified => unreachable!(),
            }
        }
    }

    #[test]
    fn a_mixed_history_balances_to_the_fen() {
        let mut b = Books { budget_fen: 5_000_000, pool_balance_fen: 0, ..Default::default() };
        apply(&mut b, EntryKind::Fund, 5_000_000);
        for fen in [1_000_000, 1_000_000, 333_333] {
            apply(&mut b, EntryKind::Approve, fen);
        }
        apply(&mut b, EntryKind::Pay, 1_000_000);
        apply(&mut b, EntryKind::Release, 333_333);
        b.pool_balance_fen = 3_000_000;
        b.approved_awards_fen = 1_000_000;
        b.paid_awards_fen = 1_000_000;
        assert_eq!(discrepancies(&b), Vec::<String>::new());
        assert_eq!((b.pool_account, b.payable_account, b.paid_account), (3_000_000, 1_000_000, 1_000_000));
        b.pool_balance_fen -= 1;
        assert_eq!(discrepancies(&b).len(), 1);
    }
}

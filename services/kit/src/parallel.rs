//! CPU work over a slice on every core (an import's cell checks and encryption): the
//! results in the slice's order, and a worker's panic raised again in the caller
//! rather than its share of the results silently missing.

/// `f` over consecutive pieces of `items` (at least `min_piece` long), one thread per
/// core (at most 16); `f` gets each piece with the index of its first item, and the
/// results are joined in `items`' order.
pub fn map_pieces<T: Sync, U: Send>(
    items: &[T],
    min_piece: usize,
    f: impl Fn(usize, &[T]) -> Vec<U> + Sync,
) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(16);
    let piece = items.len().div_ceil(threads).max(min_piece).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(piece).enumerate().map(|(k, part)| s.spawn(move || f(k * piece, part))).collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(mut part) => out.append(&mut part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_come_back_in_order_with_their_offsets() {
        let items: Vec<usize> = (0..10_000).collect();
        let out = map_pieces(&items, 7, |first, part| {
            part.iter().enumerate().map(|(i, v)| (first + i, *v * 2)).collect()
        });
        assert_eq!(out.len(), items.len());
        assert!(out.iter().enumerate().all(|(i, (at, v))| *at == i && *v == i * 2));
        assert!(map_pieces(&[] as &[u8], 10, |_, p| p.to_vec()).is_empty());
    }

    #[test]
    fn a_worker_s_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..100).collect();
        let caught = std::panic::catch_unwind(|| {
            map_pieces(&items, 1, |first, part| if first == 0 { panic!("bad piece") } else { part.to_vec() })
        });
        assert!(caught.is_err());
    }
}

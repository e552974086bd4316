//! The one quantile every bench reports (median, p95): nearest rank over
//! sorted samples.

/// The `q` quantile (0 to 1) of `sorted` by nearest rank; `None` when
/// there are no samples.
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a rank between 0 and the last index: it fits and is never negative"
)]
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    let at = (last as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted.get(at.min(last)).copied()
}

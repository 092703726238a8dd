//! Exact money and ratio values, and the only rounding helpers sanbao uses.
//!
//! Guarantees:
//! - [`Money`] is an integer number of cents (`i128`), so sums are exact and can never
//!   lose a cent; parsing and display go through `rust_decimal` at the boundary.
//! - [`Ratio`] is an integer number of ten-thousandths (four decimals).
//! - Every division in the SPEC is done here on integers, as an exact rational, and
//!   rounded exactly once (`floor_div`, `ceil_div`, `round_half_even_div`).
//! - Output never writes `-0.00`, always exactly two (money) or four (ratio) decimals.

use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// A signed amount of money in cents. Event fields hold non-negative values only;
/// projections (a projected end balance, say) may be negative.
///
/// Aligned to 8 bytes, not `i128`'s 16: every dated entry of the state holds one
/// beside a date and a seq, and 16-byte alignment padded each to the next 16 bytes
/// (an `Entry` took 48 bytes instead of 32; replaying ten million records peaked
/// ≈ 40 MB lower once it was not).
/// Its value is only ever copied out, never borrowed, so the packing costs nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(Rust, packed(8))]
pub struct Money(i128);

/// Largest amount an event field may carry: 9,999,999,999,999.99 yuan (13 integer digits).
pub const MAX_AMOUNT_CENTS: i128 = 999_999_999_999_999;

impl Money {
    /// Zero yuan.
    pub const ZERO: Money = Money(0);

    /// Builds a value from a number of cents.
    pub const fn from_cents(cents: i128) -> Money {
        Money(cents)
    }

    /// The value in cents.
    pub const fn cents(self) -> i128 {
        self.0
    }

    /// True when the value is strictly positive.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// True when the value is strictly negative.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The larger of `self` and zero.
    pub fn clamp_zero(self) -> Money {
        Money(self.0.max(0))
    }

    /// Parses an input amount: a string matching `^[0-9]{1,13}(\.[0-9]{1,2})?$`.
    /// Leading zeros are allowed and normalized away by value (`"007.5"` is 7.50).
    pub fn parse_amount(s: &str) -> Result<Money, String> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let int_ok = (1..=13).contains(&int.len()) && int.bytes().all(|b| b.is_ascii_digit());
        let frac_ok = frac.map_or(true, |f| {
            (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit())
        });
        if !int_ok || !frac_ok {
            return Err(format!(
                "{s:?} is not an amount: write decimal yuan as a string, up to 13 digits and at most 2 decimals, e.g. \"1200.50\""
            ));
        }
        let d = Decimal::from_str(s).map_err(|e| format!("{s:?} is not an amount: {e}"))?;
        Ok(Money::from_decimal(d))
    }

    /// Converts an exact decimal with at most two decimals to money (extra decimals
    /// are truncated toward zero; callers pass already-validated values).
    pub fn from_decimal(d: Decimal) -> Money {
        let scale = d.scale();
        let m = d.mantissa();
        let cents = if scale <= 2 {
            m * 10i128.pow(2 - scale)
        } else {
            m / 10i128.pow(scale - 2)
        };
        Money(cents)
    }

    /// The value as a `rust_decimal::Decimal` with exactly two decimals, when it fits
    /// Decimal's 96-bit mantissa (always, for any realistic treasury figure).
    pub fn to_decimal(self) -> Option<Decimal> {
        Decimal::try_from_i128_with_scale(self.0, 2).ok()
    }

    /// Formats with thousands separators for people: `12,345,678.90`.
    pub fn grouped(self) -> String {
        let plain = self.to_string();
        let (sign, rest) = plain
            .strip_prefix('-')
            .map_or(("", plain.as_str()), |r| ("-", r));
        let (int, frac) = rest.split_once('.').unwrap_or((rest, "00"));
        let mut out = String::with_capacity(plain.len() + int.len() / 3);
        out.push_str(sign);
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out.push('.');
        out.push_str(frac);
        out
    }
}

impl Money {
    /// The amount's text, `[-]yuan.cc` (exactly two decimals, no grouping: the same
    /// text as the value's `rust_decimal` form with scale 2), written by hand on the
    /// stack because every record hash and every JSON output formats every amount.
    pub fn text(self) -> AsciiText<44> {
        let mut t = AsciiText::<44>::empty();
        push_fixed(&mut t, self.0.unsigned_abs(), 2);
        if self.0 < 0 {
            t.push_front(b'-');
        }
        t
    }
}

/// Puts `a`, an integer count of 10^-`decimals`, in front of `t` as digits with
/// exactly `decimals` decimals (at least one digit before the point).
fn push_fixed<const N: usize>(t: &mut AsciiText<N>, a: u128, decimals: u32) {
    // Amounts are far below 2^64 in practice, and 64-bit division is several times
    // cheaper than 128-bit: the digits are taken in u64 as soon as the rest fits.
    let (mut big, mut small) = (a, u64::try_from(a).ok());
    let mut k = 0;
    loop {
        if k == decimals {
            t.push_front(b'.');
        }
        let (digit, rest) = match small.as_mut() {
            Some(s) => {
                let d = (*s % 10) as u8;
                *s /= 10;
                (d, u128::from(*s))
            }
            None => {
                let d = (big % 10) as u8;
                big /= 10;
                small = u64::try_from(big).ok();
                (d, big)
            }
        };
        t.push_front(b'0' + digit);
        if rest == 0 && k >= decimals {
            break;
        }
        k += 1;
    }
}

/// A short ASCII text built right to left in a stack buffer of `N` bytes: what
/// [`Money::text`] and the date and month formatters hand to serializers, so that no
/// `fmt::Formatter` (nor any allocation) sits on the path of every record's hash.
#[derive(Clone, Copy)]
pub struct AsciiText<const N: usize> {
    buf: [u8; N],
    start: usize,
}

impl<const N: usize> AsciiText<N> {
    /// An empty text.
    pub fn empty() -> Self {
        AsciiText {
            buf: [0; N],
            start: N,
        }
    }

    /// Builds the text from exactly `N` ASCII bytes (panics on any other byte).
    pub fn of(buf: [u8; N]) -> Self {
        assert!(buf.is_ascii(), "AsciiText holds ASCII only");
        AsciiText { buf, start: 0 }
    }

    /// Puts an ASCII byte in front of the text (panics on a non-ASCII byte, or when
    /// the buffer is full).
    pub fn push_front(&mut self, b: u8) {
        assert!(b.is_ascii(), "AsciiText holds ASCII only");
        self.start -= 1;
        self.buf[self.start] = b;
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: `buf[start..]` holds only bytes put in by `of` and `push_front`,
        // which both refuse any byte that is not ASCII, and ASCII is valid UTF-8.
        // (Checked UTF-8 decoding here was 3 % of a log's verification.)
        unsafe { std::str::from_utf8_unchecked(&self.buf[self.start..]) }
    }
}

impl fmt::Display for Money {
    /// [`Money::text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0 + o.0)
    }
}
impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, o: Money) -> Money {
        Money(self.0 - o.0)
    }
}
impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}
impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        self.0 += o.0;
    }
}
impl std::ops::SubAssign for Money {
    fn sub_assign(&mut self, o: Money) {
        self.0 -= o.0;
    }
}
impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

/// A non-negative ratio in ten-thousandths (four decimals): risk lines, guarantee
/// levels, wage cover. Levels computed from a negative projection may be negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ratio(i64);

impl Ratio {
    /// Builds a ratio from ten-thousandths (`3000` is 0.3000).
    pub const fn from_units(units: i64) -> Ratio {
        Ratio(units)
    }

    /// The value in ten-thousandths.
    pub const fn units(self) -> i64 {
        self.0
    }

    /// Parses an input ratio: a string matching `^[0-9]{1,3}(\.[0-9]{1,4})?$`.
    pub fn parse(s: &str) -> Result<Ratio, String> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let int_ok = (1..=3).contains(&int.len()) && int.bytes().all(|b| b.is_ascii_digit());
        let frac_ok = frac.map_or(true, |f| {
            (1..=4).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit())
        });
        if !int_ok || !frac_ok {
            return Err(format!(
                "{s:?} is not a ratio: write a decimal string with up to 3 digits and at most 4 decimals, e.g. \"0.3\""
            ));
        }
        let d = Decimal::from_str(s).map_err(|e| format!("{s:?} is not a ratio: {e}"))?;
        let scale = d.scale();
        let m = d.mantissa();
        let units = m * 10i128.pow(4 - scale);
        Ok(Ratio(units as i64))
    }

    /// `round4(num / den)` for two money values (half to even); `None` when `den` is 0.
    pub fn of(num: Money, den: Money) -> Option<Ratio> {
        if den.cents() == 0 {
            return None;
        }
        let q = round_half_even_div(num.cents() * 10_000, den.cents());
        Some(Ratio(q as i64))
    }
}

impl Ratio {
    /// The ratio's text, `[-]units.dddd` (exactly four decimals), written by hand.
    pub fn text(self) -> AsciiText<24> {
        let mut t = AsciiText::<24>::empty();
        push_fixed(&mut t, u128::from(self.0.unsigned_abs()), 4);
        if self.0 < 0 {
            t.push_front(b'-');
        }
        t
    }
}

impl fmt::Display for Ratio {
    /// [`Ratio::text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

/// Exact floor of `num / den` (toward negative infinity); `den` must be non-zero.
pub fn floor_div(num: i128, den: i128) -> i128 {
    let q = num / den;
    if (num % den != 0) && ((num < 0) != (den < 0)) {
        q - 1
    } else {
        q
    }
}

/// Exact ceiling of `num / den`; `den` must be non-zero.
pub fn ceil_div(num: i128, den: i128) -> i128 {
    -floor_div(-num, den)
}

/// `num / den` rounded half to even; `den` must be non-zero.
pub fn round_half_even_div(num: i128, den: i128) -> i128 {
    let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
    let q = floor_div(num, den);
    let r = num - q * den; // 0 <= r < den
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => {
            if q % 2 == 0 {
                q
            } else {
                q + 1
            }
        }
    }
}

/// `floor_cent(x / n)` for money divided by a positive integer.
pub fn floor_cent_div(x: Money, n: i128) -> Money {
    Money::from_cents(floor_div(x.cents(), n))
}

/// Money divided by a positive integer, rounded half to even at cents.
pub fn round_cent_div(x: Money, n: i128) -> Money {
    Money::from_cents(round_half_even_div(x.cents(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_of_amounts_and_ratios_as_decimal_writes_them() {
        for cents in [
            0i128,
            5,
            -5,
            99,
            100,
            -120_050,
            i128::from(u64::MAX),
            i128::from(u64::MAX) + 1,
            -(i128::from(u64::MAX) * 1_000 + 7),
        ] {
            let want = rust_decimal::Decimal::from_i128_with_scale(cents, 2).to_string();
            assert_eq!(Money::from_cents(cents).text().as_str(), want, "{cents}");
        }
        for units in [0i64, 1, -1, 3_000, -5_000, 12_345_678] {
            let want = rust_decimal::Decimal::new(units, 4).to_string();
            assert_eq!(Ratio::from_units(units).text().as_str(), want, "{units}");
        }
    }

    #[test]
    fn hand_written_text_equals_rust_decimals() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut cases: Vec<i128> = vec![0, 1, -1, 5, -5, 10, 99, 100, -100, 101, 123_456];
        cases.extend([MAX_AMOUNT_CENTS, -MAX_AMOUNT_CENTS, i64::MAX as i128]);
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x >> (x % 60)) as i128;
            cases.push(if x % 2 == 0 { v } else { -v });
        }
        for c in cases {
            let d = Decimal::try_from_i128_with_scale(c, 2).unwrap();
            assert_eq!(Money::from_cents(c).to_string(), d.to_string(), "{c}");
        }
    }

    #[test]
    fn parses_and_normalizes_amounts() {
        assert_eq!(Money::parse_amount("007.5").unwrap().to_string(), "7.50");
        assert_eq!(Money::parse_amount("1200").unwrap().to_string(), "1200.00");
        assert_eq!(Money::parse_amount("0").unwrap().to_string(), "0.00");
        assert_eq!(
            Money::parse_amount("9999999999999.99").unwrap().cents(),
            MAX_AMOUNT_CENTS
        );
        for bad in [
            "",
            ".5",
            "1.",
            "1.234",
            "-1",
            "+1",
            "1e3",
            " 1",
            "12345678901234",
            "1,000",
            "１",
        ] {
            assert!(
                Money::parse_amount(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn displays_signed_and_grouped() {
        assert_eq!(Money::from_cents(-5).to_string(), "-0.05");
        assert_eq!(Money::from_cents(0).to_string(), "0.00");
        assert_eq!(
            Money::from_cents(123456789012).grouped(),
            "1,234,567,890.12"
        );
        assert_eq!(Money::from_cents(-100000).grouped(), "-1,000.00");
        assert_eq!(Money::from_cents(99999).grouped(), "999.99");
    }

    #[test]
    fn ratios_parse_and_round_half_even() {
        assert_eq!(Ratio::parse("0.3").unwrap().to_string(), "0.3000");
        assert_eq!(Ratio::parse("1.5").unwrap().units(), 15000);
        assert!(Ratio::parse("0.12345").is_err());
        assert!(Ratio::parse("1000").is_err());
        // 1/8 = 0.125 exactly -> at four decimals 0.1250; 1/3 -> 0.3333
        let r = Ratio::of(Money::from_cents(100), Money::from_cents(300)).unwrap();
        assert_eq!(r.to_string(), "0.3333");
        // 0.00005 exactly halfway: 1 / 20000 -> rounds to even 0.0000; 3/20000 -> 0.0002
        assert_eq!(
            Ratio::of(Money::from_cents(1), Money::from_cents(20000))
                .unwrap()
                .units(),
            0
        );
        assert_eq!(
            Ratio::of(Money::from_cents(3), Money::from_cents(20000))
                .unwrap()
                .units(),
            2
        );
        assert_eq!(
            Ratio::of(Money::from_cents(-3), Money::from_cents(20000))
                .unwrap()
                .to_string(),
            "-0.0002"
        );
        assert!(Ratio::of(Money::from_cents(1), Money::ZERO).is_none());
    }

    #[test]
    fn integer_rounding_helpers() {
        assert_eq!(floor_div(7, 2), 3);
        assert_eq!(floor_div(-7, 2), -4);
        assert_eq!(ceil_div(7, 2), 4);
        assert_eq!(ceil_div(-7, 2), -3);
        assert_eq!(round_half_even_div(5, 2), 2);
        assert_eq!(round_half_even_div(7, 2), 4);
        assert_eq!(round_half_even_div(-5, 2), -2);
        assert_eq!(round_cent_div(Money::from_cents(100), 3).cents(), 33);
        assert_eq!(floor_cent_div(Money::from_cents(200), 3).cents(), 66);
    }
}

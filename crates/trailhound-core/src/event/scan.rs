//! A one-pass reader of a record's hot fields, written for speed.
//!
//! Why our own: reading the hot fields is, after inflating, the largest cost of a hunt, and
//! most of a record is the `requestParameters`/`responseElements` that no hot field lives in.
//! serde_json reads those values byte by byte through its generic `Visitor` machinery; this
//! reader validates them with a scan that looks at eight bytes at a time for the bytes that
//! matter in a string (`"`, `\`, control characters), and fills the record views directly.
//!
//! It is deliberately narrower than serde_json, never wider: whenever a record is anything but
//! plain (a key written with escapes, a hot field given twice or holding a number, a surrogate
//! escape, nesting beyond serde_json's limit, any syntax error), it gives up and the caller
//! reads the record with serde_json, which decides and explains. A record this reader accepts
//! is a record serde_json accepts, with the same field values: the differential tests below
//! check exactly that.
//!
//! Two objects repeat from record to record: `userIdentity` and `tlsDetails`. When the text at
//! one of them equals a text this thread read lately (the `identities` and `tls_places`
//! tables), it is not read again: the same text is the same valid object, so the event gets
//! the identity built from it, or values borrowed from the same places, and the shape notes
//! reading it gave. The tests below also build events with those tables filled, byte flip by
//! byte flip, and compare them with serde_json's.

use std::borrow::Cow;
use std::sync::Arc;

use super::identities::{self, Shape};
use super::tls_places::{self, Places};
use super::{
    LenientBool, RecordView, SPAN_KEYS, SessionAttributesView, SessionContextView,
    SessionIssuerView, TlsView, UserIdentity, UserIdentityView,
};

/// serde_json's nesting limit: deeper records are left to it.
const MAX_DEPTH: u32 = 127;

/// Reads the record object at the start of `text` (which starts with `{`) into `view` (a
/// default one), and says how many bytes it spans. `None` when serde_json must read it
/// instead (`view` then holds whatever was read before giving up).
pub(super) fn record<'a>(text: &'a str, view: &mut RecordView<'a>) -> Option<usize> {
    let mut scan = Scan {
        text,
        bytes: text.as_bytes(),
        at: 0,
        depth: 0,
        deepest: 0,
        odd: false,
    };
    scan.record(view)?;
    view.scanned.depth = u8::try_from(scan.deepest).ok()?;
    view.scanned.odd = scan.odd;
    Some(scan.at)
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: u32,
    deepest: u32,
    /// A string field held a bool, an object or an array.
    odd: bool,
}

/// Eight copies of a byte.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

const LOW: u64 = splat(0x01);
const HIGH: u64 = splat(0x80);

/// A word with the high bit set in (at least) the first byte of `word` that is `"`, `\` or
/// below 0x20, and in no byte before it. Later bytes may be flagged falsely (borrows), so
/// only the lowest flag is used.
#[inline]
fn specials(word: u64) -> u64 {
    let quote = word ^ splat(b'"');
    let backslash = word ^ splat(b'\\');
    let zero = |v: u64| v.wrapping_sub(LOW) & !v & HIGH;
    zero(quote) | zero(backslash) | (word.wrapping_sub(splat(0x20)) & !word & HIGH)
}

fn hex(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

impl<'a> Scan<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// The next non-space byte, not consumed.
    #[inline]
    fn next(&mut self) -> Option<u8> {
        self.ws();
        self.peek()
    }

    #[inline]
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then(|| self.at += 1)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.deepest = self.deepest.max(self.depth);
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Reads a top-level value with `read`, noting where it lies when it is one of
    /// [`SPAN_KEYS`].
    fn spanned(
        &mut self,
        key: &[u8],
        spans: &mut [(u32, u32); SPAN_KEYS.len()],
        read: impl FnOnce(&mut Self) -> Option<()>,
    ) -> Option<()> {
        let Some(i) = SPAN_KEYS.iter().position(|k| k.as_bytes() == key) else {
            return read(self);
        };
        self.ws();
        let start = u32::try_from(self.at).ok()?;
        read(self)?;
        let end = u32::try_from(self.at).ok()?;
        *spans.get_mut(i)? = (start, end);
        Some(())
    }

    /// The index of the closing quote of the string whose body starts at `self.at`, and
    /// whether it holds escapes. Escapes and control characters are validated.
    ///
    /// The usual string (no escape, not at the end of the text) is found here, inlined into
    /// each caller: some eighty strings per record made the call itself a sixth of the
    /// scanner's instructions. Everything else goes to [`Scan::string_end_from`].
    #[inline(always)]
    fn string_end(&self) -> Option<(usize, bool)> {
        let i = self.plain_until(self.at);
        if self.bytes.get(i) == Some(&b'"') {
            return Some((i, false));
        }
        self.string_end_from(i)
    }

    /// From `i`, eight bytes at a time, the index of the first byte that needs a look (`"`,
    /// `\`, a control character), or of the text's last few bytes.
    #[inline(always)]
    fn plain_until(&self, mut i: usize) -> usize {
        while let Some(chunk) = self.bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let flags = specials(u64::from_le_bytes(word));
            if flags != 0 {
                return i + (flags.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        i
    }

    /// [`Scan::string_end`] from `from`, a byte of the string's body that needs a look (an
    /// escape, a control character) or the last few bytes of the text.
    #[inline(never)]
    fn string_end_from(&self, from: usize) -> Option<(usize, bool)> {
        let bytes = self.bytes;
        let mut i = from;
        let mut escaped = false;
        loop {
            i = self.plain_until(i);
            match *bytes.get(i)? {
                b'"' => return Some((i, escaped)),
                b'\\' => {
                    escaped = true;
                    match *bytes.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' => {
                            let code = self.hex4(i + 2)?;
                            // Surrogates (pairs or lone) are left to serde_json.
                            if (0xD800..0xE000).contains(&code) {
                                return None;
                            }
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                0..0x20 => return None,
                _ => i += 1,
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        digits
            .iter()
            .try_fold(0u32, |acc, &b| Some(acc * 16 + hex(b)?))
    }

    /// A string value (at its opening quote), borrowed unless it holds escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.at += 1;
        let (end, escaped) = self.string_end()?;
        let body = self.text.get(self.at..end)?;
        self.at = end + 1;
        if !escaped {
            return Some(Cow::Borrowed(body));
        }
        Some(Cow::Owned(crate::rawjson::unescape(body)?))
    }

    /// Skips a string (at its opening quote).
    #[inline]
    fn skip_string(&mut self) -> Option<()> {
        self.at += 1;
        let (end, _) = self.string_end()?;
        self.at = end + 1;
        Some(())
    }

    /// An object key (at its opening quote), without escapes.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a [u8]> {
        if self.next()? != b'"' {
            return None;
        }
        self.at += 1;
        let (end, escaped) = self.string_end()?;
        if escaped {
            return None;
        }
        let key = self.bytes.get(self.at..end)?;
        self.at = end + 1;
        self.eat(b':')?;
        Some(key)
    }

    /// Reads an object (at `{`), calling `field` with each key; `field` reads the value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.enter()?;
        self.at += 1;
        if self.next()? == b'}' {
            self.at += 1;
        } else {
            loop {
                let key = self.key()?;
                field(self, key)?;
                match self.next()? {
                    b',' => self.at += 1,
                    b'}' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn skip_array(&mut self) -> Option<()> {
        self.enter()?;
        self.at += 1;
        if self.next()? == b']' {
            self.at += 1;
        } else {
            loop {
                self.skip_value()?;
                match self.next()? {
                    b',' => self.at += 1,
                    b']' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A number, validated against JSON's grammar.
    fn skip_number(&mut self) -> Option<()> {
        let digits = |scan: &mut Self| {
            let start = scan.at;
            while scan.peek().is_some_and(|b| b.is_ascii_digit()) {
                scan.at += 1;
            }
            (scan.at > start).then_some(())
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => digits(self)?,
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            digits(self)?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            digits(self)?;
        }
        Some(())
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.next()? {
            b'"' => self.skip_string(),
            b'{' => self.object(|scan, _| scan.skip_value()),
            b'[' => self.skip_array(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// A lenient string field: a string, or absent for `null`, a bool, an object or an
    /// array. A number is left to serde_json (which rejects some, such as `1e999`).
    fn lenient_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.next()? {
            b'"' => self.string().map(Some),
            b'n' => self.literal(b"null").map(|()| None),
            b't' | b'f' | b'{' | b'[' => {
                self.odd = true;
                self.skip_value().map(|()| None)
            }
            _ => None,
        }
    }

    /// A lenient bool field: `null` is absent, a string is true when it says so.
    fn lenient_bool(&mut self) -> Option<Option<LenientBool>> {
        Some(match self.next()? {
            b'n' => {
                self.literal(b"null")?;
                None
            }
            b't' => {
                self.literal(b"true")?;
                Some(LenientBool(true))
            }
            b'f' => {
                self.literal(b"false")?;
                Some(LenientBool(false))
            }
            b'"' => Some(LenientBool(self.string()?.eq_ignore_ascii_case("true"))),
            b'{' | b'[' => {
                self.skip_value()?;
                Some(LenientBool(false))
            }
            _ => return None,
        })
    }

    /// A nested view, read into `slot` in place: `null` is absent, an object is read by
    /// `read`; anything else (serde also reads structs from arrays) is left to serde_json.
    fn nested<T: Default>(
        &mut self,
        slot: &mut Option<T>,
        read: impl FnOnce(&mut Self, &mut T) -> Option<()>,
    ) -> Option<()> {
        match self.next()? {
            b'n' => {
                self.literal(b"null")?;
                *slot = None;
                Some(())
            }
            b'{' => read(self, slot.insert(T::default())),
            _ => None,
        }
    }

    fn record(&mut self, view: &mut RecordView<'a>) -> Option<()> {
        if self.next()? != b'{' {
            return None;
        }
        let mut seen = Seen(0);
        self.object(|scan, key| {
            let slot = match key {
                b"eventVersion" => (0, &mut view.event_version),
                b"eventTime" => (1, &mut view.event_time),
                b"eventSource" => (2, &mut view.event_source),
                b"eventName" => (3, &mut view.event_name),
                b"awsRegion" => (4, &mut view.aws_region),
                b"sourceIPAddress" => (5, &mut view.source_ip_address),
                b"userAgent" => (6, &mut view.user_agent),
                b"errorCode" => (7, &mut view.error_code),
                b"errorMessage" => (8, &mut view.error_message),
                b"eventID" => (9, &mut view.event_id),
                b"eventType" => (10, &mut view.event_type),
                b"sharedEventID" => (11, &mut view.shared_event_id),
                b"recipientAccountId" => (12, &mut view.recipient_account_id),
                b"readOnly" => {
                    seen.first(13)?;
                    view.read_only = scan.lenient_bool()?;
                    return Some(());
                }
                b"managementEvent" => {
                    seen.first(14)?;
                    view.management_event = scan.lenient_bool()?;
                    return Some(());
                }
                b"userIdentity" => {
                    seen.first(15)?;
                    return scan.spanned(key, &mut view.scanned.spans, |scan| {
                        scan.identity(
                            &mut view.user_identity,
                            &mut view.known_identity,
                            &mut view.identity_shape,
                        )
                    });
                }
                b"tlsDetails" => {
                    seen.first(16)?;
                    return scan.tls_details(&mut view.tls_details);
                }
                _ => return scan.spanned(key, &mut view.scanned.spans, Scan::skip_value),
            };
            seen.first(slot.0)?;
            *slot.1 = scan.lenient_str()?;
            Some(())
        })
    }

    /// `userIdentity`: skipped when this thread built an identity lately from the very same
    /// text (`known` then holds it), else read into `view`, noting its `shape`. A text equal
    /// to one read before is the same valid object, so skipping it changes nothing but the
    /// time: where it ends is found by its braces and strings alone, then the text compared.
    fn identity(
        &mut self,
        view: &mut Option<UserIdentityView<'a>>,
        known: &mut Option<Arc<UserIdentity>>,
        shape: &mut Shape,
    ) -> Option<()> {
        if self.next()? == b'{'
            && let Some(rest) = self.bytes.get(self.at..)
            && let Some(found) =
                identities::latest(rest).or_else(|| identities::known(rest, self.object_len()?))
            && self.depth + found.shape.depth <= MAX_DEPTH
        {
            self.replay(found.shape);
            self.at += found.len;
            *known = Some(found.identity);
            return Some(());
        }
        *shape = self.noting_shape(|scan| scan.nested(view, Scan::user_identity))?;
        Some(())
    }

    /// Runs `read`, noting apart what it reads (how far below the current level it nests,
    /// whether a typed field was odd); the record's own notes take it in afterwards.
    fn noting_shape(&mut self, read: impl FnOnce(&mut Self) -> Option<()>) -> Option<Shape> {
        let (deepest, odd, base) = (self.deepest, self.odd, self.depth);
        (self.deepest, self.odd) = (base, false);
        read(self)?;
        let shape = Shape {
            depth: self.deepest - base,
            odd: self.odd,
        };
        self.deepest = self.deepest.max(deepest);
        self.odd |= odd;
        Some(shape)
    }

    /// What reading a skipped object would have noted, as [`Scan::noting_shape`] gave it.
    fn replay(&mut self, shape: Shape) {
        self.deepest = self.deepest.max(self.depth + shape.depth);
        self.odd |= shape.odd;
    }

    /// The length of the object at `self.at` (at `{`) as its braces and strings tell, its
    /// values unread and unchecked: only for finding a text read before.
    fn object_len(&self) -> Option<usize> {
        let bytes = self.bytes;
        let mut depth = 0u32;
        let mut i = self.at;
        loop {
            match *bytes.get(i)? {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i + 1 - self.at);
                    }
                }
                b'"' => {
                    i = self.plain_until(i + 1);
                    loop {
                        match *bytes.get(i)? {
                            b'"' => break,
                            b'\\' => i = self.plain_until(i + 2),
                            _ => i = self.plain_until(i + 1),
                        }
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    fn user_identity(&mut self, view: &mut UserIdentityView<'a>) -> Option<()> {
        let mut seen = Seen(0);
        self.object(|scan, key| {
            let slot = match key {
                b"type" => (0, &mut view.kind),
                b"principalId" => (1, &mut view.principal_id),
                b"arn" => (2, &mut view.arn),
                b"accountId" => (3, &mut view.account_id),
                b"accessKeyId" => (4, &mut view.access_key_id),
                b"userName" => (5, &mut view.user_name),
                b"invokedBy" => (6, &mut view.invoked_by),
                b"sessionContext" => {
                    seen.first(7)?;
                    scan.nested(&mut view.session_context, Scan::session_context)?;
                    return Some(());
                }
                _ => return scan.skip_value(),
            };
            seen.first(slot.0)?;
            *slot.1 = scan.lenient_str()?;
            Some(())
        })
    }

    fn session_context(&mut self, view: &mut SessionContextView<'a>) -> Option<()> {
        let mut seen = Seen(0);
        self.object(|scan, key| {
            match key {
                b"sessionIssuer" => {
                    seen.first(0)?;
                    scan.nested(&mut view.session_issuer, Scan::session_issuer)?;
                }
                b"attributes" => {
                    seen.first(1)?;
                    scan.nested(&mut view.attributes, Scan::attributes)?;
                }
                b"ec2RoleDelivery" => {
                    seen.first(2)?;
                    view.ec2_role_delivery = scan.lenient_str()?;
                }
                b"sourceIdentity" => {
                    seen.first(3)?;
                    view.source_identity = scan.lenient_str()?;
                }
                _ => scan.skip_value()?,
            }
            Some(())
        })
    }

    fn session_issuer(&mut self, view: &mut SessionIssuerView<'a>) -> Option<()> {
        self.strings(
            &[b"type", b"principalId", b"arn", b"accountId", b"userName"],
            &mut [
                &mut view.kind,
                &mut view.principal_id,
                &mut view.arn,
                &mut view.account_id,
                &mut view.user_name,
            ],
        )
    }

    /// An object whose known fields are all lenient strings: `names[i]` is read into
    /// `slots[i]`, anything else skipped.
    fn strings(&mut self, names: &[&[u8]], slots: &mut [&mut Option<Cow<'a, str>>]) -> Option<()> {
        let mut seen = Seen(0);
        self.object(|scan, key| {
            let Some(i) = names.iter().position(|name| *name == key) else {
                return scan.skip_value();
            };
            seen.first(u32::try_from(i).ok()?)?;
            **slots.get_mut(i)? = scan.lenient_str()?;
            Some(())
        })
    }

    fn attributes(&mut self, view: &mut SessionAttributesView<'a>) -> Option<()> {
        let mut seen = Seen(0);
        self.object(|scan, key| {
            match key {
                b"creationDate" => {
                    seen.first(0)?;
                    view.creation_date = scan.lenient_str()?;
                }
                b"mfaAuthenticated" => {
                    seen.first(1)?;
                    view.mfa_authenticated = scan.lenient_bool()?;
                }
                _ => scan.skip_value()?,
            }
            Some(())
        })
    }

    /// `tlsDetails`: its values borrowed from the places kept for the very same text
    /// (`tls_places`), else read, and their places kept when the object is plain.
    fn tls_details(&mut self, slot: &mut Option<TlsView<'a>>) -> Option<()> {
        /// The shape of the objects whose places are kept: one level, nothing odd.
        const PLAIN: Shape = Shape {
            depth: 1,
            odd: false,
        };
        if self.next()? != b'{' {
            return self.nested(slot, Scan::tls);
        }
        let start = self.at;
        let rest = self.bytes.get(start..)?;
        if let Some((len, places)) = tls_places::latest(rest).or_else(|| {
            let len = self.object_len()?;
            Some((len, tls_places::known(rest, len)?))
        }) && self.depth + PLAIN.depth <= MAX_DEPTH
        {
            let text = self.text;
            let value = |place: Option<(u32, u32)>| match place {
                Some((a, b)) => text
                    .get(start + a as usize..start + b as usize)
                    .map(|v| Some(Cow::Borrowed(v))),
                None => Some(None),
            };
            *slot = Some(TlsView {
                tls_version: value(places[0])?,
                cipher_suite: value(places[1])?,
                client_provided_host_header: value(places[2])?,
            });
            self.replay(PLAIN);
            self.at = start + len;
            return Some(());
        }
        let shape = self.noting_shape(|scan| scan.nested(slot, Scan::tls))?;
        // Kept when plain: one level, no odd value, every value borrowed from the text.
        if shape == PLAIN
            && let Some(view) = slot.as_ref()
        {
            let base = self.text.as_ptr() as usize + start;
            let place = |value: &Option<Cow<'a, str>>| match value {
                None => Some(None),
                Some(Cow::Borrowed(v)) => {
                    let a = u32::try_from((v.as_ptr() as usize).checked_sub(base)?).ok()?;
                    Some(Some((a, a + u32::try_from(v.len()).ok()?)))
                }
                Some(Cow::Owned(_)) => None,
            };
            let places: Option<Places> = (|| {
                Some([
                    place(&view.tls_version)?,
                    place(&view.cipher_suite)?,
                    place(&view.client_provided_host_header)?,
                ])
            })();
            if let (Some(places), Some(key)) = (places, self.bytes.get(start..self.at)) {
                tls_places::keep(key, places);
            }
        }
        Some(())
    }

    fn tls(&mut self, view: &mut TlsView<'a>) -> Option<()> {
        self.strings(
            &[b"tlsVersion", b"cipherSuite", b"clientProvidedHostHeader"],
            &mut [
                &mut view.tls_version,
                &mut view.cipher_suite,
                &mut view.client_provided_host_header,
            ],
        )
    }
}

/// Which fields of a view were read: serde rejects a field given twice, so this reader gives
/// up on one.
struct Seen(u32);

impl Seen {
    #[inline]
    fn first(&mut self, field: u32) -> Option<()> {
        let bit = 1 << field;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first.then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Scanned;

    /// serde_json's reading of the record at the start of `text`, as [`record`] reports it.
    fn serde(text: &str) -> Option<(RecordView<'_>, usize)> {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<RecordView<'_>>();
        let view = stream.next()?.ok()?;
        Some((view, stream.byte_offset()))
    }

    /// This reader's result, without what serde_json does not read (the shape notes).
    fn fields(text: &str) -> Option<(RecordView<'_>, usize)> {
        scanned(text).map(|(mut view, len)| {
            view.scanned = Scanned::default();
            view.identity_shape = Shape::default();
            (view, len)
        })
    }

    fn scanned(text: &str) -> Option<(RecordView<'_>, usize)> {
        let mut view = RecordView::default();
        let len = record(text, &mut view)?;
        Some((view, len))
    }

    /// Whatever this reader accepts, serde_json accepts with the same result.
    fn agrees(text: &str) -> bool {
        match fields(text) {
            None => true,
            Some(ours) => serde(text).as_ref() == Some(&ours),
        }
    }

    const RECORD: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:i-0abc","arn":"arn:aws:sts::123456789012:assumed-role/web/i-0abc","accountId":"123456789012","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::123456789012:role/web","accountId":"123456789012","userName":"web"},"attributes":{"creationDate":"2026-01-02T00:00:00Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}},"eventTime":"2026-01-02T03:04:05Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15 Python/3.11","requestParameters":{"bucketName":"b","bucketPolicy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\"}]}","Host":"b.s3.amazonaws.com","n":[1,-2.5e3,0,true,false,null,{}]},"responseElements":null,"additionalEventData":{"bytesTransferredIn":0.0},"readOnly":false,"eventID":"e2","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"b.s3.amazonaws.com"}}"#;

    #[test]
    fn reads_a_record_as_serde_does() {
        let (view, len) = fields(RECORD).unwrap();
        assert_eq!(len, RECORD.len());
        assert_eq!(serde(RECORD), Some((view, len)));
        // The shape notes: depth and where the big values lie.
        let tree: serde_json::Value = serde_json::from_str(RECORD).unwrap();
        let shape = scanned(RECORD).unwrap().0.scanned;
        assert_eq!(shape.depth, 4);
        for (key, (start, end)) in SPAN_KEYS.iter().zip(shape.spans) {
            let text = &RECORD[start as usize..end as usize];
            match tree.get(key) {
                Some(value) => assert_eq!(
                    &serde_json::from_str::<serde_json::Value>(text).unwrap(),
                    value
                ),
                None => assert_eq!((start, end), (0, 0)),
            }
        }
        let followed = format!("{RECORD}, {{\"next\":1}}");
        assert_eq!(scanned(&followed).unwrap().1, RECORD.len());
    }

    #[test]
    fn an_identity_read_before_is_skipped_with_the_same_result() {
        use crate::{Event, Origin};
        // Built from scratch (nothing kept yet on this thread), then from a record whose
        // identity text is the same: skipped, shared, and the same shape notes.
        let first = Event::from_json(RECORD, Origin::new("f", 0)).unwrap();
        let (view, len) = scanned(RECORD).unwrap();
        assert!(view.user_identity.is_none() && view.known_identity.is_some());
        // tlsDetails read again from the places kept: the same values, borrowed.
        assert_eq!(view.tls_details, serde(RECORD).unwrap().0.tls_details);
        let tls = view.tls_details.as_ref().unwrap();
        assert!(matches!(
            tls.cipher_suite,
            Some(Cow::Borrowed("TLS_AES_128_GCM_SHA256"))
        ));
        // One with an escape is not kept: read (and unescaped) every time.
        let escaped = RECORD.replace("TLSv1.3", r"TLSv1\u002e3");
        for _ in 0..2 {
            let (view, _) = scanned(&escaped).unwrap();
            let tls = view.tls_details.unwrap();
            assert!(matches!(tls.tls_version, Some(Cow::Owned(v)) if v == "TLSv1.3"));
        }
        assert_eq!(len, RECORD.len());
        assert_eq!(view.scanned, first.inner.scanned);
        let second = Event::from_json(RECORD.replace("\"e2\"", "\"e3\""), Origin::new("f", 1));
        let second = second.unwrap();
        assert!(Arc::ptr_eq(
            &first.inner.user_identity,
            &second.inner.user_identity
        ));
        assert_eq!(first.inner.scanned, second.inner.scanned);
        // The same identity text in a record that is broken after it: still refused.
        let broken = RECORD.replace(r#""eventTime""#, r#""eventTime"""#);
        assert!(scanned(&broken).is_none());
        assert!(Event::from_json(broken, Origin::new("f", 2)).is_err());
        // An identity that differs only far into its text is read, not taken for the other.
        let other = RECORD.replace("\"ec2RoleDelivery\":\"2.0\"", "\"ec2RoleDelivery\":\"1.0\"");
        let (view, _) = scanned(&other).unwrap();
        assert!(view.known_identity.is_none() && view.user_identity.is_some());
        // Odd fields and depth are replayed when skipped.
        let odd = r#"{"eventTime":"2026-01-02T03:04:05Z","eventSource":"s","eventName":"n","userIdentity":{"type":true,"principalId":"AROAEXAMPLE:long-enough-session-name","sessionContext":{"attributes":{"x":[[[1]]]}}}}"#;
        let built = Event::from_json(odd, Origin::new("f", 3)).unwrap();
        let (view, _) = scanned(odd).unwrap();
        assert!(view.known_identity.is_some());
        assert_eq!(view.scanned, built.inner.scanned);
        assert!(view.scanned.odd && view.scanned.depth == 7);
        // With RECORD's identity kept, every byte flip still decodes as serde_json reads it.
        let bytes = RECORD.as_bytes();
        for at in 0..bytes.len() {
            for b in [b'"', b'\\', b'{', b'}', b',', b':', b'0', b' ', 0x1f] {
                let mut changed = bytes.to_vec();
                changed[at] = b;
                if let Ok(text) = std::str::from_utf8(&changed) {
                    assert!(built_agrees(text), "byte {at} set to {b:#x}: {text}");
                }
            }
        }
    }

    /// The event decoded from `text` is the one built from serde_json's reading of it (or
    /// both fail).
    fn built_agrees(text: &str) -> bool {
        use crate::{Event, Origin};
        let ours = Event::from_json(text, Origin::new("f", 0));
        let Ok(mut view) = serde_json::from_str::<RecordView<'_>>(text) else {
            return ours.is_err();
        };
        let theirs = super::super::build_event(
            &mut view,
            text,
            Origin::new("f", 0),
            super::super::Raw::Owned(text.into()),
        );
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) => {
                ours.inner.user_identity == theirs.inner.user_identity
                    && ours.tls_details() == theirs.tls_details()
                    && ours.event_name() == theirs.event_name()
                    && ours.event_time() == theirs.event_time()
            }
            (Err(_), Err(_)) => true,
            _ => false,
        }
    }

    #[test]
    fn escapes_are_decoded() {
        let text = r#"{"eventName":"A\"B\\C\/D\u00e9\n","userAgent":"x\u0041"}"#;
        let (view, _) = scanned(text).unwrap();
        assert_eq!(view.event_name.as_deref(), Some("A\"B\\C/Dé\n"));
        assert_eq!(view.user_agent.as_deref(), Some("xA"));
        assert!(agrees(text));
    }

    #[test]
    fn lenient_fields() {
        let text = r#"{"eventName":null,"errorCode":{"a":[1]},"readOnly":"TRUE","managementEvent":[],"userIdentity":null,"awsRegion":true}"#;
        let (view, _) = scanned(text).unwrap();
        assert_eq!(view.read_only, Some(LenientBool(true)));
        assert_eq!(view.management_event, Some(LenientBool(false)));
        assert!(view.event_name.is_none() && view.error_code.is_none());
        assert!(agrees(text));
    }

    #[test]
    fn gives_up_where_serde_must_decide() {
        for text in [
            r#"{"eventName":"a","eventName":"b"}"#, // twice
            r#"{"event\u004eame":"a"}"#,            // escaped key
            r#"{"eventName":1e999}"#,               // a number in a hot field
            r#"{"userIdentity":["IAMUser"]}"#,      // a struct from an array
            r#"{"x":"\ud83d\ude00"}"#,              // surrogates
            "{\"x\":\"a\u{1}b\"}",                  // a raw control character
            r#"{"x":01}"#,                          // a leading zero
            r#"{"x":1.}"#,                          // no fraction digits
            r#"{"x":[1,]}"#,                        // a trailing comma
            r#"{"x":tru}"#,                         // a bad literal
            r#"{"x" 1}"#,                           // no colon
            r#"{"x":"\q"}"#,                        // a bad escape
            r#"{"x":"\u12"}"#,                      // a short escape
        ] {
            assert!(scanned(text).is_none(), "{text}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(scanned(&deep).is_none());
    }

    #[test]
    fn every_cut_and_every_byte_flip_agrees_with_serde() {
        for cut in 0..RECORD.len() {
            if let Some(prefix) = RECORD.get(..cut) {
                assert!(scanned(prefix).is_none(), "cut at {cut}");
            }
        }
        let bytes = RECORD.as_bytes();
        for at in 0..bytes.len() {
            for b in [
                b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'e', b' ', 0x1f,
            ] {
                let mut changed = bytes.to_vec();
                changed[at] = b;
                if let Ok(text) = std::str::from_utf8(&changed) {
                    assert!(agrees(text), "byte {at} set to {b:#x}: {text}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_agrees_with_serde(text in r#"\{("[a-zA-Z]{1,12}":([0-9eE.+-]{1,4}|"([a-z\\"/u0-9]|\\u00[0-9a-f]{2}){0,6}"|\[|\]|\{|\}|true|null|,)){0,8}\}?"#) {
            proptest::prop_assert!(agrees(&text));
        }

        #[test]
        fn hot_fields_agree_with_serde(
            name in r#"([a-zA-Z0-9 ]|\\[nt"\\/]|\\u00[4-7][0-9a-f])*"#,
            value in r#"("[a-z]{0,3}"|null|true|false|-?[0-9]{1,3}|\{\}|\[\])"#,
        ) {
            let text = format!(r#"{{"eventName":"{name}","readOnly":{value},"userIdentity":{{"type":{value},"sessionContext":{{"attributes":{{"mfaAuthenticated":{value}}}}}}}}}"#);
            proptest::prop_assert!(agrees(&text));
        }
    }
}

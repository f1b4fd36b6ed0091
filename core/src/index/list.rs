//! Listings with the semantics of S3 ListObjectsV2.
//!
//! The listing is the sorted sequence of *items* among live keys that start with `prefix`: a key
//! whose remainder after the prefix contains the delimiter is rolled up into the common prefix
//! `prefix + remainder up to and including the first delimiter`; every other key is an item of
//! its own. A page holds the items strictly greater than the start position (the continuation
//! token's, else `start_after`), at most `max_keys` of them. A common prefix is therefore
//! returned once, even across pages, and a start position inside a rolled-up group skips the
//! group (the rule S3 applies to a V1 `NextMarker` that is a common prefix). After a common
//! prefix the cursor seeks past the whole group instead of visiting its keys.

use super::cursor::Cursor;
use super::entry::Entry;
use super::error::IndexResult;
use super::token::{open_token, seal_token};
use super::tree::ProllyTree;
use crate::block::Cid;
use crate::store::BlockStore;

/// The most keys a page returns, and the default.
pub const MAX_KEYS: u32 = 1000;

/// Parameters of a ListObjectsV2 request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Only keys starting with this (empty: all keys).
    pub prefix: Vec<u8>,
    /// Roll keys up into common prefixes at the first occurrence of this after the prefix
    /// (`None` or empty: no roll-up). May be longer than one byte.
    pub delimiter: Option<Vec<u8>>,
    /// Start after this key (exclusive). Ignored when a continuation token is given.
    pub start_after: Option<Vec<u8>>,
    /// `next_continuation_token` of the previous page, with the same prefix and delimiter.
    pub continuation_token: Option<String>,
    /// Most items (keys plus common prefixes) in the page: 0 to 1000, default 1000; larger
    /// values are treated as 1000, as S3 does.
    pub max_keys: Option<u32>,
}

/// One key in a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    /// The key.
    pub key: Vec<u8>,
    /// Its (live) entry.
    pub entry: Entry,
}

/// One page of a ListObjectsV2 listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Keys not rolled up, in order.
    pub contents: Vec<ListedObject>,
    /// Common prefixes, in order.
    pub common_prefixes: Vec<Vec<u8>>,
    /// `contents.len() + common_prefixes.len()`.
    pub key_count: u32,
    /// The page size limit applied.
    pub max_keys: u32,
    /// Whether more items follow this page.
    pub is_truncated: bool,
    /// Pass this back to get the next page; present exactly when `is_truncated`.
    pub next_continuation_token: Option<String>,
}

/// The smallest key greater than every key that starts with `prefix`, or `None` if none is.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl<S: BlockStore + ?Sized> ProllyTree<S> {
    /// One page of the ListObjectsV2 listing of the tree at `root` (tombstones are not listed).
    pub async fn list(&self, root: &Cid, req: &ListRequest) -> IndexResult<ListPage> {
        let prefix = req.prefix.as_slice();
        let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());
        let delim_bytes = delimiter.unwrap_or(&[]);
        let max_keys = req.max_keys.unwrap_or(MAX_KEYS).min(MAX_KEYS);
        let position = match &req.continuation_token {
            Some(t) => Some(open_token(&self.codec.secrets, t, prefix, delim_bytes)?),
            None => req.start_after.clone(),
        };
        let mut page = ListPage {
            max_keys,
            ..ListPage::default()
        };
        if max_keys == 0 {
            // S3 answers max-keys=0 with an empty, untruncated page.
            return Ok(page);
        }
        let start = match &position {
            Some(p) if p.as_slice() >= prefix => {
                let mut s = p.clone();
                s.push(0);
                s
            }
            _ => prefix.to_vec(),
        };
        let mut cursor = Cursor::new(self, root).await?;
        cursor.seek(Some(&start)).await?;
        // Whether the last item returned so far is a common prefix (else a key).
        let mut last_is_prefix = false;
        while let Some((key, entry)) = cursor.current() {
            if !key.starts_with(prefix) {
                break;
            }
            if entry.is_tombstone() {
                cursor.advance().await?;
                continue;
            }
            let rolled = delimiter
                .and_then(|d| find(&key[prefix.len()..], d).map(|i| prefix.len() + i + d.len()));
            let Some(cp_len) = rolled else {
                if page.key_count == max_keys {
                    page.is_truncated = true;
                    break;
                }
                last_is_prefix = false;
                page.contents.push(ListedObject {
                    key: key.to_vec(),
                    entry: entry.clone(),
                });
                page.key_count += 1;
                cursor.advance().await?;
                continue;
            };
            let cp = key[..cp_len].to_vec();
            let seen = position
                .as_ref()
                .is_some_and(|p| cp.as_slice() <= p.as_slice());
            cursor.seek(prefix_successor(&cp).as_deref()).await?;
            if !seen {
                if page.key_count == max_keys {
                    page.is_truncated = true;
                    break;
                }
                page.key_count += 1;
                page.common_prefixes.push(cp);
                last_is_prefix = true;
            }
        }
        if page.is_truncated {
            let last = if last_is_prefix {
                page.common_prefixes.last().map(Vec::as_slice)
            } else {
                page.contents.last().map(|o| o.key.as_slice())
            };
            // A truncated page holds at least one item (max_keys >= 1 here).
            let last = last.unwrap_or(&[]);
            page.next_continuation_token =
                Some(seal_token(&self.codec.secrets, prefix, delim_bytes, last));
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_of_prefixes() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(find(b"a//b", b"//"), Some(1));
    }
}

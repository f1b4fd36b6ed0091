//! Tests of the index against naive models (a `BTreeMap`) and the S3 ListObjectsV2 rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_executor::block_on;
use proptest::prelude::*;

use super::*;
use crate::block::{Cid, raw_cid};
use crate::store::{BlockStore, MemoryStore};

type Tree = ProllyTree<MemoryStore>;
type Model = BTreeMap<Vec<u8>, Entry>;

fn tree_with(target: u32, key: u8) -> Tree {
    let config = IndexConfig {
        target_node_bytes: target,
        cache_bytes: 1 << 20,
    };
    ProllyTree::new(
        Arc::new(MemoryStore::new()),
        &IndexKey::from_bytes([key; 32]),
        config,
    )
    .unwrap()
}

fn small_tree() -> Tree {
    tree_with(256, 9)
}

fn w(n: u8) -> WriterId {
    WriterId([n; 16])
}

fn live(v: &str, t: u64) -> Entry {
    Entry::live(v.as_bytes(), Hlc::new(t, 0), w(1))
}

fn build_model(t: &Tree, model: &Model) -> Cid {
    block_on(t.build(model.iter().map(|(k, e)| (k.clone(), e.clone())))).unwrap()
}

fn photo_keys(n: usize) -> Model {
    (0..n)
        .map(|i| {
            (
                format!("photos/{}/IMG_{:04}.jpg", 2020 + i % 5, i).into_bytes(),
                live(&format!("v{i}"), i as u64),
            )
        })
        .collect()
}

// ---------------------------------------------------------------- structure, get, history

#[test]
fn build_get_and_depth() {
    let t = small_tree();
    let model = photo_keys(600);
    let root = build_model(&t, &model);
    assert!(
        block_on(t.depth(&root)).unwrap() >= 3,
        "small nodes give a multi-level tree"
    );
    for (k, e) in &model {
        assert_eq!(block_on(t.get(&root, k)).unwrap().as_ref(), Some(e));
    }
    for absent in [&b"photos/2020/IMG_0001.jpg "[..], b"a", b"zzz", b"photos/"] {
        assert_eq!(block_on(t.get(&root, absent)).unwrap(), None);
    }
    assert_eq!(
        block_on(t.entries(&root)).unwrap(),
        model.into_iter().collect::<Vec<_>>()
    );
}

#[test]
fn empty_tree_and_bad_keys() {
    let t = small_tree();
    let empty = block_on(t.empty_root()).unwrap();
    assert_eq!(empty, build_model(&t, &Model::new()));
    assert_eq!(block_on(t.get(&empty, b"x")).unwrap(), None);
    assert!(matches!(
        block_on(t.put(&empty, b"", live("v", 1))),
        Err(IndexError::EmptyKey)
    ));
    assert!(matches!(
        block_on(t.put(&empty, &[b'a'; 1025], live("v", 1))),
        Err(IndexError::KeyTooLong { len: 1025 })
    ));
    block_on(t.put(&empty, &[b'a'; 1024], live("v", 1))).unwrap();
    let big = Entry::live(vec![0u8; MAX_VALUE_LEN + 1], Hlc::ZERO, w(1));
    assert!(matches!(
        block_on(t.put(&empty, b"k", big)),
        Err(IndexError::ValueTooLarge { .. })
    ));
    let unsorted = vec![(b"b".to_vec(), live("1", 1)), (b"a".to_vec(), live("2", 1))];
    assert!(matches!(
        block_on(t.build(unsorted)),
        Err(IndexError::UnsortedInput { position: 1 })
    ));
    let dup = vec![(b"a".to_vec(), live("1", 1)), (b"a".to_vec(), live("2", 1))];
    assert!(matches!(
        block_on(t.build(dup)),
        Err(IndexError::UnsortedInput { position: 1 })
    ));
}

#[test]
fn removing_everything_gives_the_empty_root() {
    let t = small_tree();
    let model = photo_keys(300);
    let root = build_model(&t, &model);
    let gone =
        block_on(t.apply(&root, model.keys().map(|k| (k.clone(), Mutation::Remove)))).unwrap();
    assert_eq!(gone, block_on(t.empty_root()).unwrap());
}

#[test]
fn a_single_put_reads_about_one_path() {
    let t = small_tree();
    let model = photo_keys(2000);
    let root = build_model(&t, &model);
    let depth = u64::from(block_on(t.depth(&root)).unwrap());
    let before = t.stats();
    let root2 = block_on(t.put(&root, b"photos/2022/IMG_0500.jpg!", live("new", 9))).unwrap();
    let after = t.stats();
    let loaded = after.nodes_loaded - before.nodes_loaded;
    let written = after.blocks_written - before.blocks_written;
    assert!(
        loaded <= 4 * depth,
        "loaded {loaded} nodes for depth {depth}"
    );
    assert!(
        written <= 4 * depth,
        "wrote {written} blocks for depth {depth}"
    );
    assert_ne!(root, root2);
}

#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let t = small_tree();
    let root = raw_cid(b"x");
    assert_send(t.get(&root, b"k"));
    assert_send(t.apply(&root, Vec::new()));
    assert_send(t.build(Vec::new()));
    assert_send(t.list(&root, &ListRequest::default()));
    assert_send(t.merge(&root, &root));
    assert_send(t.prove(&root, b"k"));
    assert_send(t.compact_tombstones(&root, Hlc::ZERO));
    let mut d = t.diff(&root, &root);
    assert_send(d.next());
}

fn arb_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ab]{1,3}(/[ab]{1,2}){0,3}".prop_map(String::into_bytes),
        "[aé€😀/]{1,4}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 1..6),
    ]
}

#[derive(Clone, Debug)]
enum Step {
    Put(Vec<u8>, u8),
    Remove(Vec<u8>),
}

fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            3 => (arb_key(), any::<u8>()).prop_map(|(k, v)| Step::Put(k, v)),
            1 => arb_key().prop_map(Step::Remove),
        ],
        0..120,
    )
}

fn step_entry(v: u8) -> Entry {
    if v.is_multiple_of(7) {
        Entry::tombstone(Hlc::new(u64::from(v), 1), w(v))
    } else {
        Entry::live(
            vec![v; 1 + usize::from(v % 5)],
            Hlc::new(u64::from(v), 0),
            w(v),
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Random inserts and deletes, applied one by one or in random batches, give the root a
    /// bulk load of the final set gives.
    #[test]
    fn history_independence(steps in arb_steps(), chunk in 1usize..20, seed in any::<u64>()) {
        let t = small_tree();
        let mut model = Model::new();
        let mut root = block_on(t.empty_root()).unwrap();
        let mut muts = Vec::new();
        for s in &steps {
            match s {
                Step::Put(k, v) => { model.insert(k.clone(), step_entry(*v)); muts.push((k.clone(), Mutation::Put(step_entry(*v)))); }
                Step::Remove(k) => { model.remove(k); muts.push((k.clone(), Mutation::Remove)); }
            }
        }
        for batch in muts.chunks(chunk) {
            root = block_on(t.apply(&root, batch.to_vec())).unwrap();
        }
        prop_assert_eq!(root, build_model(&t, &model));
        // The same final set reached through a different history: insert in shuffled order.
        let mut shuffled: Vec<_> = model.iter().map(|(k, e)| (k.clone(), e.clone())).collect();
        let n = shuffled.len().max(1);
        shuffled.rotate_left((seed as usize) % n);
        let mut other = block_on(t.empty_root()).unwrap();
        for (k, e) in shuffled {
            other = block_on(t.put(&other, &k, e)).unwrap();
        }
        prop_assert_eq!(other, root);
        prop_assert_eq!(block_on(t.entries(&root)).unwrap(), model.into_iter().collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------- listings

/// The S3 rules, written naively: items are keys or common prefixes, in order, after `start`.
type ModelPage = (Vec<Vec<u8>>, Vec<Vec<u8>>, bool, Option<Vec<u8>>);

fn model_list(model: &Model, req: &ListRequest) -> ModelPage {
    let max = req.max_keys.unwrap_or(1000).min(1000) as usize;
    let delim = req.delimiter.clone().filter(|d| !d.is_empty());
    let mut items: Vec<(Vec<u8>, bool)> = Vec::new();
    for (k, e) in model {
        if e.is_tombstone() || !k.starts_with(&req.prefix) {
            continue;
        }
        let rest = &k[req.prefix.len()..];
        let cp = delim.as_ref().and_then(|d| {
            rest.windows(d.len())
                .position(|x| x == d.as_slice())
                .map(|i| k[..req.prefix.len() + i + d.len()].to_vec())
        });
        let item = match cp {
            Some(c) => (c, true),
            None => (k.clone(), false),
        };
        if items.last() != Some(&item) {
            items.push(item);
        }
    }
    if let Some(p) = &req.start_after {
        items.retain(|(i, _)| i > p);
    }
    if max == 0 {
        return (vec![], vec![], false, None);
    }
    let truncated = items.len() > max;
    items.truncate(max);
    let last = items.last().map(|(i, _)| i.clone());
    let contents = items
        .iter()
        .filter(|(_, cp)| !cp)
        .map(|(k, _)| k.clone())
        .collect();
    let cps = items
        .iter()
        .filter(|(_, cp)| *cp)
        .map(|(k, _)| k.clone())
        .collect();
    (contents, cps, truncated, last.filter(|_| truncated))
}

fn keys_of(page: &ListPage) -> Vec<Vec<u8>> {
    page.contents.iter().map(|o| o.key.clone()).collect()
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn bs(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| b(s)).collect()
}

/// Cases written from the ListObjectsV2 documentation (prefix, delimiter, start-after,
/// continuation token, max-keys, KeyCount, IsTruncated) and its examples.
#[test]
fn list_objects_v2_table() {
    let t = tree_with(512, 5);
    let keys = [
        "a.txt",
        "b/x/1",
        "b/x/2",
        "b/y",
        "b//double",
        "b/z/deep/er/1",
        "c",
        "c/",
        "c/d",
        "notes/summer/july",
        "notes/summer/august",
        "notes/winter/january",
        "notes/readme",
        "photos/2024/IMG_0001.jpg",
        "photos/2024/IMG_0002.jpg",
        "photos/2025/IMG_0001.jpg",
        "photos/index.html",
        "x//y//z",
        "ünïcödé/ß",
        "ünïcödé/€",
        "日本/東京/1",
        "日本/大阪",
        "😀",
    ];
    let mut sorted = keys.to_vec();
    sorted.sort();
    let mut model: Model = keys.iter().map(|k| (b(k), live(k, 1))).collect();
    model.insert(b("deleted/one"), Entry::tombstone(Hlc::new(2, 0), w(1)));
    model.insert(b("b/x/3"), Entry::tombstone(Hlc::new(2, 0), w(1)));
    let root = build_model(&t, &model);

    struct Case {
        name: &'static str,
        prefix: &'static str,
        delimiter: Option<&'static str>,
        start_after: Option<&'static str>,
        max_keys: Option<u32>,
        contents: Vec<&'static str>,
        prefixes: Vec<&'static str>,
        truncated: bool,
    }
    let c = |name,
             prefix,
             delimiter,
             start_after,
             max_keys,
             contents: &[&'static str],
             prefixes: &[&'static str],
             truncated| Case {
        name,
        prefix,
        delimiter,
        start_after,
        max_keys,
        contents: contents.to_vec(),
        prefixes: prefixes.to_vec(),
        truncated,
    };
    let cases = vec![
        c(
            "everything, no delimiter, byte order (UTF-8 after ASCII)",
            "",
            None,
            None,
            None,
            &sorted,
            &[],
            false,
        ),
        c(
            "root 'folders'",
            "",
            Some("/"),
            None,
            None,
            &["a.txt", "c", "😀"],
            &["b/", "c/", "notes/", "photos/", "x/", "ünïcödé/", "日本/"],
            false,
        ),
        c(
            "the documented notes/ example",
            "notes/",
            Some("/"),
            None,
            None,
            &["notes/readme"],
            &["notes/summer/", "notes/winter/"],
            false,
        ),
        c(
            "prefix without delimiter lists the whole subtree",
            "notes/s",
            None,
            None,
            None,
            &["notes/summer/august", "notes/summer/july"],
            &[],
            false,
        ),
        c(
            "prefix that equals a key, and a longer key",
            "c",
            Some("/"),
            None,
            None,
            &["c"],
            &["c/"],
            false,
        ),
        c(
            "prefix equal to a key that ends with the delimiter",
            "c/",
            Some("/"),
            None,
            None,
            &["c/", "c/d"],
            &[],
            false,
        ),
        c(
            "keys containing the delimiter several times roll up at the first",
            "b/",
            Some("/"),
            None,
            None,
            &["b/y"],
            &["b//", "b/x/", "b/z/"],
            false,
        ),
        c(
            "double delimiter right after the prefix",
            "x/",
            Some("/"),
            None,
            None,
            &[],
            &["x//"],
            false,
        ),
        c(
            "multi-byte delimiter",
            "",
            Some("//"),
            None,
            None,
            &[
                "a.txt",
                "b/x/1",
                "b/x/2",
                "b/y",
                "b/z/deep/er/1",
                "c",
                "c/",
                "c/d",
                "notes/readme",
                "notes/summer/august",
                "notes/summer/july",
                "notes/winter/january",
                "photos/2024/IMG_0001.jpg",
                "photos/2024/IMG_0002.jpg",
                "photos/2025/IMG_0001.jpg",
                "photos/index.html",
                "ünïcödé/ß",
                "ünïcödé/€",
                "日本/大阪",
                "日本/東京/1",
                "😀",
            ],
            &["b//", "x//"],
            false,
        ),
        c(
            "delimiter that is in no key",
            "photos/",
            Some("#"),
            None,
            None,
            &[
                "photos/2024/IMG_0001.jpg",
                "photos/2024/IMG_0002.jpg",
                "photos/2025/IMG_0001.jpg",
                "photos/index.html",
            ],
            &[],
            false,
        ),
        c(
            "empty delimiter means none",
            "notes/",
            Some(""),
            None,
            None,
            &[
                "notes/readme",
                "notes/summer/august",
                "notes/summer/july",
                "notes/winter/january",
            ],
            &[],
            false,
        ),
        c(
            "multi-byte UTF-8 prefix and delimiter",
            "日本",
            Some("/"),
            None,
            None,
            &[],
            &["日本/"],
            false,
        ),
        c(
            "multi-byte UTF-8 keys under a prefix",
            "ünïcödé/",
            None,
            None,
            None,
            &["ünïcödé/ß", "ünïcödé/€"],
            &[],
            false,
        ),
        c(
            "prefix matching nothing",
            "zzz",
            Some("/"),
            None,
            None,
            &[],
            &[],
            false,
        ),
        c(
            "start-after a key",
            "photos/",
            None,
            Some("photos/2024/IMG_0001.jpg"),
            None,
            &[
                "photos/2024/IMG_0002.jpg",
                "photos/2025/IMG_0001.jpg",
                "photos/index.html",
            ],
            &[],
            false,
        ),
        c(
            "start-after that is not a key",
            "photos/",
            None,
            Some("photos/2024/IMG_0001.jpg0"),
            None,
            &[
                "photos/2024/IMG_0002.jpg",
                "photos/2025/IMG_0001.jpg",
                "photos/index.html",
            ],
            &[],
            false,
        ),
        c(
            "start-after before the prefix excludes nothing",
            "photos/",
            Some("/"),
            Some("a"),
            None,
            &["photos/index.html"],
            &["photos/2024/", "photos/2025/"],
            false,
        ),
        c(
            "start-after after the prefix range",
            "notes/",
            None,
            Some("p"),
            None,
            &[],
            &[],
            false,
        ),
        c(
            "start-after shorter than the common prefix keeps it",
            "",
            Some("/"),
            Some("notes"),
            Some(2),
            &[],
            &["notes/", "photos/"],
            true,
        ),
        c(
            "start-after equal to a common prefix skips it",
            "photos/",
            Some("/"),
            Some("photos/2024/"),
            None,
            &["photos/index.html"],
            &["photos/2025/"],
            false,
        ),
        c(
            "start-after inside a common prefix skips that prefix",
            "photos/",
            Some("/"),
            Some("photos/2024/IMG_0001.jpg"),
            None,
            &["photos/index.html"],
            &["photos/2025/"],
            false,
        ),
        c(
            "max-keys 0: empty, not truncated",
            "",
            None,
            None,
            Some(0),
            &[],
            &[],
            false,
        ),
        c("max-keys 1", "", None, None, Some(1), &["a.txt"], &[], true),
        c(
            "max-keys counts common prefixes",
            "",
            Some("/"),
            None,
            Some(3),
            &["a.txt", "c"],
            &["b/"],
            true,
        ),
        c(
            "max-keys exactly the number of items is not truncated",
            "notes/",
            Some("/"),
            None,
            Some(3),
            &["notes/readme"],
            &["notes/summer/", "notes/winter/"],
            false,
        ),
        c(
            "max-keys above 1000 is 1000",
            "b/",
            Some("/"),
            None,
            Some(5000),
            &["b/y"],
            &["b//", "b/x/", "b/z/"],
            false,
        ),
        c(
            "tombstones are not listed, and a prefix of only tombstones is not a common prefix",
            "de",
            Some("/"),
            None,
            None,
            &[],
            &[],
            false,
        ),
    ];
    for case in cases {
        let req = ListRequest {
            prefix: b(case.prefix),
            delimiter: case.delimiter.map(b),
            start_after: case.start_after.map(b),
            continuation_token: None,
            max_keys: case.max_keys,
        };
        let page = block_on(t.list(&root, &req)).unwrap();
        assert_eq!(
            keys_of(&page),
            bs(&case.contents),
            "contents: {}",
            case.name
        );
        assert_eq!(
            page.common_prefixes,
            bs(&case.prefixes),
            "common prefixes: {}",
            case.name
        );
        assert_eq!(
            page.is_truncated, case.truncated,
            "truncated: {}",
            case.name
        );
        assert_eq!(
            page.key_count as usize,
            case.contents.len() + case.prefixes.len(),
            "KeyCount: {}",
            case.name
        );
        assert_eq!(
            page.next_continuation_token.is_some(),
            case.truncated,
            "token: {}",
            case.name
        );
        let (mc, mp, mt, _) = model_list(&model, &req);
        assert_eq!(
            (
                keys_of(&page),
                page.common_prefixes.clone(),
                page.is_truncated
            ),
            (mc, mp, mt),
            "model: {}",
            case.name
        );
    }
}

/// Pages through `req` with continuation tokens, returning every item in order.
fn page_through(t: &Tree, root: &Cid, mut req: ListRequest) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, usize) {
    let (mut contents, mut cps, mut pages) = (Vec::new(), Vec::new(), 0);
    loop {
        let page = block_on(t.list(root, &req)).unwrap();
        pages += 1;
        assert!(page.key_count <= page.max_keys);
        contents.extend(keys_of(&page));
        cps.extend(page.common_prefixes.clone());
        match page.next_continuation_token {
            Some(tok) => req.continuation_token = Some(tok),
            None => return (contents, cps, pages),
        }
        assert!(pages < 10_000);
    }
}

#[test]
fn continuation_tokens_page_through_and_are_bound() {
    let t = tree_with(512, 5);
    let model = photo_keys(700);
    let root = build_model(&t, &model);
    let req = ListRequest {
        prefix: b("photos/"),
        delimiter: Some(b("/")),
        max_keys: Some(2),
        ..ListRequest::default()
    };
    let (contents, cps, pages) = page_through(&t, &root, req.clone());
    assert!(contents.is_empty());
    assert_eq!(
        cps,
        bs(&[
            "photos/2020/",
            "photos/2021/",
            "photos/2022/",
            "photos/2023/",
            "photos/2024/"
        ])
    );
    assert_eq!(pages, 3);
    let flat = ListRequest {
        prefix: b("photos/2021/"),
        max_keys: Some(7),
        ..ListRequest::default()
    };
    let (contents, _, _) = page_through(&t, &root, flat);
    assert_eq!(contents.len(), 140);

    // A token is stable, and bound to the prefix, the delimiter and the vault.
    let first = block_on(t.list(&root, &req)).unwrap();
    let tok = first.next_continuation_token.clone().unwrap();
    assert_eq!(
        block_on(t.list(&root, &req))
            .unwrap()
            .next_continuation_token,
        Some(tok.clone())
    );
    let with = |r: &ListRequest| ListRequest {
        continuation_token: Some(tok.clone()),
        ..r.clone()
    };
    for other in [
        ListRequest {
            prefix: b("photos"),
            ..req.clone()
        },
        ListRequest {
            delimiter: None,
            ..req.clone()
        },
        ListRequest {
            delimiter: Some(b("2")),
            ..req.clone()
        },
    ] {
        assert!(matches!(
            block_on(t.list(&root, &with(&other))),
            Err(IndexError::InvalidToken(_))
        ));
    }
    let foreign = tree_with(512, 6);
    let froot = build_model(&foreign, &model);
    assert!(matches!(
        block_on(foreign.list(&froot, &with(&req))),
        Err(IndexError::InvalidToken(_))
    ));
    let mut forged = tok.clone().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let r = ListRequest {
        continuation_token: Some(forged),
        ..req.clone()
    };
    assert!(matches!(
        block_on(t.list(&root, &r)),
        Err(IndexError::InvalidToken(_))
    ));
    // max-keys may change between pages; a token survives writes elsewhere in the tree.
    let root2 = block_on(t.put(&root, b"photos/2020/new.jpg", live("n", 1))).unwrap();
    let r = ListRequest {
        max_keys: Some(1000),
        ..with(&req)
    };
    let rest = block_on(t.list(&root2, &r)).unwrap();
    assert_eq!(
        rest.common_prefixes,
        bs(&["photos/2022/", "photos/2023/", "photos/2024/"])
    );
}

#[test]
fn delimiter_listing_skips_rolled_up_keys() {
    let t = tree_with(1024, 5);
    let model: Model = (0..5000)
        .map(|i| {
            (
                format!("dir{}/file{:05}", i % 4, i).into_bytes(),
                live("v", 1),
            )
        })
        .chain((0..3).map(|i| (format!("top{i}").into_bytes(), live("v", 1))))
        .collect();
    let root = build_model(&t, &model);
    let before = t.stats().nodes_loaded;
    let page = block_on(t.list(
        &root,
        &ListRequest {
            delimiter: Some(b("/")),
            ..ListRequest::default()
        },
    ))
    .unwrap();
    let loaded = t.stats().nodes_loaded - before;
    assert_eq!(
        page.common_prefixes,
        bs(&["dir0/", "dir1/", "dir2/", "dir3/"])
    );
    assert_eq!(keys_of(&page), bs(&["top0", "top1", "top2"]));
    let depth = u64::from(block_on(t.depth(&root)).unwrap());
    // One seek per common prefix plus the start: far fewer than the ~100 leaves.
    assert!(
        loaded <= 6 * depth + 2,
        "loaded {loaded} nodes at depth {depth}"
    );
}

fn arb_list_request() -> impl Strategy<Value = ListRequest> {
    (
        prop_oneof![Just(String::new()), "[ab]{1,2}", "[ab]{1,2}/", "é"],
        prop_oneof![
            Just(None),
            Just(Some("/")),
            Just(Some("b")),
            Just(Some("//")),
            Just(Some(""))
        ],
        prop::option::of("[ab/é]{0,4}"),
        prop_oneof![Just(None), (0u32..5).prop_map(Some)],
    )
        .prop_map(|(prefix, delimiter, start_after, max_keys)| ListRequest {
            prefix: prefix.into_bytes(),
            delimiter: delimiter.map(|d| d.as_bytes().to_vec()),
            start_after: start_after.map(String::into_bytes),
            continuation_token: None,
            max_keys,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Every page, and the whole listing paged through tokens, equals the naive model.
    #[test]
    fn listing_matches_the_model(steps in arb_steps(), req in arb_list_request()) {
        let t = small_tree();
        let mut model = Model::new();
        for s in steps {
            match s {
                Step::Put(k, v) => { model.insert(k, step_entry(v)); }
                Step::Remove(k) => { model.remove(&k); }
            }
        }
        let root = build_model(&t, &model);
        let page = block_on(t.list(&root, &req)).unwrap();
        let (mc, mp, mt, _) = model_list(&model, &req);
        prop_assert_eq!(keys_of(&page), mc);
        prop_assert_eq!(&page.common_prefixes, &mp);
        prop_assert_eq!(page.is_truncated, mt);
        if req.max_keys != Some(0) {
            let (all_c, all_p, _) = page_through(&t, &root, req.clone());
            let (mc, mp, _, _) = model_list(&model, &ListRequest { max_keys: Some(1000), ..req.clone() });
            prop_assert_eq!(all_c, mc);
            prop_assert_eq!(all_p, mp);
        }
    }
}

// ---------------------------------------------------------------- diff

fn model_diff(a: &Model, b: &Model) -> Vec<DiffEntry> {
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).cloned().collect();
    keys.into_iter()
        .filter_map(|k| {
            let (old, new) = (a.get(&k).cloned(), b.get(&k).cloned());
            (old != new).then_some(DiffEntry { key: k, old, new })
        })
        .collect()
}

#[test]
fn diff_reads_grow_with_changes_times_depth() {
    let t = tree_with(512, 5);
    let a = photo_keys(5000);
    let ra = build_model(&t, &a);
    let depth = u64::from(block_on(t.depth(&ra)).unwrap());
    for changes in [1usize, 10, 50] {
        let mut b = a.clone();
        for i in 0..changes {
            let k = format!(
                "photos/{}/IMG_{:04}.jpg",
                2020 + (i * 97) % 5,
                (i * 97) % 5000
            )
            .into_bytes();
            b.insert(k, live("changed", 99));
        }
        let rb = build_model(&t, &b);
        let (d, read) = block_on(t.diff(&ra, &rb).collect()).unwrap();
        assert_eq!(d, model_diff(&a, &b));
        assert!(
            read <= 2 * changes as u64 * depth + 2,
            "{changes} changes read {read} nodes at depth {depth}"
        );
    }
    let (d, read) = block_on(t.diff(&ra, &ra).collect()).unwrap();
    assert!(d.is_empty());
    assert_eq!(read, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn diff_matches_the_model(base in arb_steps(), edits in arb_steps()) {
        let t = small_tree();
        let mut a = Model::new();
        for s in base { if let Step::Put(k, v) = s { a.insert(k, step_entry(v)); } }
        let mut b = a.clone();
        for s in edits {
            match s {
                Step::Put(k, v) => { b.insert(k, step_entry(v.wrapping_add(1))); }
                Step::Remove(k) => { b.remove(&k); }
            }
        }
        let (ra, rb) = (build_model(&t, &a), build_model(&t, &b));
        prop_assert_eq!(block_on(t.diff(&ra, &rb).collect()).unwrap().0, model_diff(&a, &b));
        prop_assert_eq!(block_on(t.diff(&rb, &ra).collect()).unwrap().0, model_diff(&b, &a));
    }
}

// ---------------------------------------------------------------- CRDT merge

/// A writer's history: puts and deletes with increasing HLC times, sometimes merging another's.
#[derive(Clone, Debug)]
enum Event {
    Put { writer: usize, key: u8, value: u8 },
    Delete { writer: usize, key: u8 },
    Sync { from: usize, to: usize },
}

fn arb_history(writers: usize) -> impl Strategy<Value = Vec<Event>> {
    let key = 0u8..24;
    prop::collection::vec(
        prop_oneof![
            4 => (0..writers, key.clone(), any::<u8>()).prop_map(|(writer, key, value)| Event::Put { writer, key, value }),
            2 => (0..writers, key).prop_map(|(writer, key)| Event::Delete { writer, key }),
            1 => (0..writers, 0..writers).prop_map(|(from, to)| Event::Sync { from, to }),
        ],
        0..60,
    )
}

fn ckey(k: u8) -> Vec<u8> {
    format!("k/{:02}/{}", k, "x".repeat(usize::from(k % 3) * 10)).into_bytes()
}

/// Runs a history; returns each writer's root and model.
fn run_history(t: &Tree, writers: usize, history: &[Event]) -> Vec<(Cid, Model)> {
    let empty = block_on(t.empty_root()).unwrap();
    let mut state: Vec<(Cid, Model, Hlc)> = (0..writers)
        .map(|_| (empty, Model::new(), Hlc::ZERO))
        .collect();
    for (step, ev) in history.iter().enumerate() {
        let now = (step as u64 / 3) * 10; // coarse wall clock: many equal times, ties on writer id
        match ev {
            Event::Put { writer, key, .. } | Event::Delete { writer, key } => {
                let value = if let Event::Put { value, .. } = ev {
                    Some(vec![*value])
                } else {
                    None
                };
                let (root, model, clock) = &mut state[*writer];
                *clock = clock.tick(now);
                let e = Entry {
                    time: *clock,
                    writer: w(*writer as u8 + 1),
                    value,
                };
                *root = block_on(t.put(root, &ckey(*key), e.clone())).unwrap();
                model.insert(ckey(*key), e);
            }
            Event::Sync { from, to } => {
                let (fr, fm, fc) = state[*from].clone();
                let (root, model, clock) = &mut state[*to];
                *root = block_on(t.merge(root, &fr)).unwrap();
                for (k, e) in fm {
                    let cur = model.entry(k).or_insert_with(|| e.clone());
                    if e > *cur {
                        *cur = e;
                    }
                }
                *clock = clock.observe(fc, now);
            }
        }
    }
    state.into_iter().map(|(r, m, _)| (r, m)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    /// Merge is commutative, associative and idempotent over random histories on 2–4 writers,
    /// and equals the pointwise maximum of the writers' maps.
    #[test]
    fn merge_is_a_semilattice(writers in 2usize..=4, history in arb_history(4)) {
        let history: Vec<Event> = history.into_iter().filter(|e| match e {
            Event::Put { writer, .. } | Event::Delete { writer, .. } => *writer < writers,
            Event::Sync { from, to } => *from < writers && *to < writers,
        }).collect();
        let t = small_tree();
        let states = run_history(&t, writers, &history);
        let m = |a: &Cid, b: &Cid| block_on(t.merge(a, b)).unwrap();
        for (a, am) in &states {
            prop_assert_eq!(*a, build_model(&t, am));
            prop_assert_eq!(m(a, a), *a);
            for (b, _) in &states {
                prop_assert_eq!(m(a, b), m(b, a));
                for (c, _) in &states {
                    prop_assert_eq!(m(&m(a, b), c), m(a, &m(b, c)));
                }
            }
        }
        let mut all = Model::new();
        for (_, sm) in &states {
            for (k, e) in sm {
                let cur = all.entry(k.clone()).or_insert_with(|| e.clone());
                if e > cur { *cur = e.clone(); }
            }
        }
        let merged = states.iter().skip(1).fold(states[0].0, |acc, (r, _)| m(&acc, r));
        prop_assert_eq!(merged, build_model(&t, &all));
    }
}

#[test]
fn concurrent_put_and_delete_resolve_by_time_then_writer() {
    let t = small_tree();
    let empty = block_on(t.empty_root()).unwrap();
    let t1 = Hlc::new(100, 0);
    let a = block_on(t.put(&empty, b"doc", Entry::live(b("v1"), t1, w(1)))).unwrap();
    let b_ = block_on(t.delete(&empty, b"doc", t1, w(2))).unwrap(); // same time, greater writer
    let m = block_on(t.merge(&a, &b_)).unwrap();
    assert!(
        block_on(t.get_entry(&m, b"doc"))
            .unwrap()
            .unwrap()
            .is_tombstone()
    );
    assert_eq!(block_on(t.get(&m, b"doc")).unwrap(), None);
    let c = block_on(t.put(&empty, b"doc", Entry::live(b("v2"), t1.tick(0), w(1)))).unwrap();
    let m2 = block_on(t.merge(&m, &c)).unwrap();
    assert_eq!(
        block_on(t.get(&m2, b"doc")).unwrap().unwrap().value(),
        Some(&b"v2"[..])
    );
}

#[test]
fn compaction_erases_only_tombstones_seen_by_all() {
    let t = small_tree();
    let mut model = photo_keys(200);
    for (i, e) in model.values_mut().enumerate() {
        if i % 3 == 0 {
            *e = Entry::tombstone(Hlc::new(i as u64, 0), w(2));
        }
    }
    let root = build_model(&t, &model);
    let (compacted, erased) = block_on(t.compact_tombstones(&root, Hlc::new(100, 0))).unwrap();
    model.retain(|_, e| !(e.is_tombstone() && e.time <= Hlc::new(100, 0)));
    assert_eq!(erased, 34);
    assert_eq!(compacted, build_model(&t, &model));
    // Live listings are unchanged by compaction.
    let all = ListRequest::default();
    assert_eq!(
        block_on(t.list(&root, &all)).unwrap().contents,
        block_on(t.list(&compacted, &all)).unwrap().contents
    );
}

// ---------------------------------------------------------------- proofs

#[test]
fn proofs_verify_and_fail_when_tampered() {
    let t = small_tree();
    let model = photo_keys(800);
    let root = build_model(&t, &model);
    let key = IndexKey::from_bytes([9; 32]);
    let config = IndexConfig {
        target_node_bytes: 256,
        ..IndexConfig::default()
    };
    let present = b"photos/2023/IMG_0333.jpg";
    let proof = block_on(t.prove(&root, present)).unwrap();
    assert_eq!(proof.nodes.len() as u32, block_on(t.depth(&root)).unwrap());
    let proof = Proof::from_bytes(&proof.to_bytes().unwrap()).unwrap();
    assert_eq!(
        verify_proof(&key, &config, &root, &proof).unwrap(),
        ProofOutcome::Present(model[&present[..]].clone())
    );
    for absent in [&b"photos/2023/IMG_0333.jpg0"[..], b"a", b"zzzz"] {
        let p = block_on(t.prove(&root, absent)).unwrap();
        assert_eq!(
            verify_proof(&key, &config, &root, &p).unwrap(),
            ProofOutcome::Absent
        );
    }
    // Tampering with any block, the key, the root, or the path fails.
    for i in 0..proof.nodes.len() {
        let mut bad = proof.clone();
        bad.nodes[i][7] ^= 1;
        assert!(verify_proof(&key, &config, &root, &bad).is_err());
    }
    let mut truncated = proof.clone();
    truncated.nodes.pop();
    assert!(verify_proof(&key, &config, &root, &truncated).is_err());
    let mut extended = proof.clone();
    extended.nodes.push(proof.nodes[0].clone());
    assert!(verify_proof(&key, &config, &root, &extended).is_err());
    let other_key = Proof {
        key: b"photos/2021/IMG_0001.jpg".to_vec(),
        ..proof.clone()
    };
    assert!(
        verify_proof(&key, &config, &root, &other_key).is_err()
            || {
                // Same leaf by chance: then it must show the real entry of that key.
                matches!(verify_proof(&key, &config, &root, &other_key), Ok(ProofOutcome::Present(e)) if e == model[&other_key.key])
            }
    );
    let root2 = block_on(t.put(&root, b"photos/new", live("n", 1))).unwrap();
    assert!(verify_proof(&key, &config, &root2, &proof).is_err());
    assert!(verify_proof(&IndexKey::from_bytes([8; 32]), &config, &root, &proof).is_err());
    assert!(Proof::from_bytes(b"\xa0").is_err());
}

// ---------------------------------------------------------------- bad input

fn corrupt_store_block(t: &Tree, cid: &Cid, bytes: Vec<u8>) {
    block_on(t.store().put(cid, bytes.into())).unwrap();
    t.clear_cache();
}

#[test]
fn blocks_that_do_not_hash_decrypt_or_decode_are_typed_errors() {
    let t = small_tree();
    let model = photo_keys(300);
    let root = build_model(&t, &model);
    let good = block_on(t.store().get(&root)).unwrap().to_vec();
    let key = b"photos/2020/IMG_0000.jpg";

    let mut flipped = good.clone();
    flipped[0] ^= 1;
    corrupt_store_block(&t, &root, flipped);
    assert!(matches!(
        block_on(t.get(&root, key)),
        Err(IndexError::Block(_))
    ));

    // A block under its true CID but sealed with another key.
    let foreign = tree_with(256, 10);
    let froot = build_model(&foreign, &model);
    let fbytes = block_on(foreign.store().get(&froot)).unwrap();
    block_on(t.store().put(&froot, fbytes)).unwrap();
    assert!(matches!(
        block_on(t.get(&froot, key)),
        Err(IndexError::Decrypt { .. })
    ));

    // Well-sealed nodes that break the rules.
    let codec = t.codec();
    let e = live("v", 1);
    let cases: Vec<(Node, NodeDefect)> = vec![
        (
            Node::leaf(vec![b("b"), b("a")], vec![e.clone(), e.clone()]),
            NodeDefect::Unsorted,
        ),
        (
            Node::leaf(vec![b("a"), b("a")], vec![e.clone(), e.clone()]),
            NodeDefect::Duplicate,
        ),
        (
            Node::leaf(vec![Vec::new()], vec![e.clone()]),
            NodeDefect::KeyLength,
        ),
        (Node::internal(1, vec![], vec![]), NodeDefect::Shape),
        (
            Node::internal(MAX_LEVEL + 1, vec![b("a")], vec![root]),
            NodeDefect::LevelTooHigh,
        ),
        (
            Node::internal(1, vec![b("a")], vec![crate::block::dag_cbor_cid(b"x")]),
            NodeDefect::ChildCid,
        ),
    ];
    for (node, defect) in cases {
        let (cid, bytes) = codec.seal(&node).unwrap();
        corrupt_store_block(&t, &cid, bytes);
        match block_on(t.get(&cid, b"a")) {
            Err(IndexError::Malformed { defect: d, .. }) => assert_eq!(d, defect),
            other => panic!("expected {defect:?}, got {other:?}"),
        }
    }
    // An interior boundary: a node chunked with another node size.
    let big = tree_with(1 << 20, 9);
    let many: Model = photo_keys(400);
    let broot = build_model(&big, &many);
    let bytes = block_on(big.store().get(&broot)).unwrap();
    corrupt_store_block(&t, &broot, bytes.to_vec());
    assert!(matches!(
        block_on(t.get(&broot, key)),
        Err(IndexError::Malformed {
            defect: NodeDefect::InteriorBoundary,
            ..
        })
    ));
    // Garbage plaintext.
    let (cid, bytes) = {
        let block = codec.secrets.seal_node(b"\xa1\x61x\x01");
        (raw_cid(&block), block)
    };
    corrupt_store_block(&t, &cid, bytes);
    assert!(matches!(
        block_on(t.get(&cid, key)),
        Err(IndexError::Malformed {
            defect: NodeDefect::Decode,
            ..
        })
    ));
}

#[test]
fn wrong_level_structure_is_a_typed_error() {
    let t = small_tree();
    let e = live("v", 1);
    let (leaf, leaf_bytes) = t
        .codec()
        .seal(&Node::leaf(vec![b("a")], vec![e.clone()]))
        .unwrap();
    corrupt_store_block(&t, &leaf, leaf_bytes);
    // An internal node two levels above its leaf child (how a cycle or splice would show).
    let (top, top_bytes) = t
        .codec()
        .seal(&Node::internal(2, vec![b("a")], vec![leaf]))
        .unwrap();
    corrupt_store_block(&t, &top, top_bytes);
    assert!(matches!(
        block_on(t.get(&top, b"a")),
        Err(IndexError::Structure { .. })
    ));
    // A separator that differs from the child's first key.
    let (mis, mis_bytes) = t
        .codec()
        .seal(&Node::internal(1, vec![b("0")], vec![leaf]))
        .unwrap();
    corrupt_store_block(&t, &mis, mis_bytes);
    assert!(matches!(
        block_on(t.get(&mis, b"a")),
        Err(IndexError::Structure { .. })
    ));
    assert!(matches!(
        block_on(t.list(&mis, &ListRequest::default())),
        Err(IndexError::Structure { .. })
    ));
    // A missing child is a store error.
    let (dangling, dbytes) = t
        .codec()
        .seal(&Node::internal(1, vec![b("a")], vec![raw_cid(b"nothing")]))
        .unwrap();
    corrupt_store_block(&t, &dangling, dbytes);
    assert!(matches!(
        block_on(t.get(&dangling, b"a")),
        Err(IndexError::Store(_))
    ));
    // The diff checks the same structure.
    let empty = block_on(t.empty_root()).unwrap();
    assert!(matches!(
        block_on(t.diff(&empty, &top).collect()),
        Err(IndexError::Structure { .. })
    ));
}

/// Regression: a put beside a reused subtree two levels up must not lose the levels inside it.
#[test]
fn single_puts_match_bulk_load() {
    let t = small_tree();
    let mut rng = 12345u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..200 {
        let n = (next() % 60) as usize;
        let mut model = Model::new();
        for _ in 0..n {
            model.insert(
                format!("{:x}", next() % 1000).into_bytes(),
                step_entry((next() % 255) as u8),
            );
        }
        let root = build_model(&t, &model);
        let k = format!("{:x}", next() % 1000).into_bytes();
        let e = step_entry((next() % 255) as u8);
        let r2 = block_on(t.put(&root, &k, e.clone())).unwrap();
        model.insert(k, e);
        assert_eq!(r2, build_model(&t, &model));
    }
}

/// Pins the format: derivations, encoding, encryption and CIDs (values also in docs/FORMAT.md §6).
#[test]
fn format_is_pinned() {
    let t = ProllyTree::new(
        Arc::new(MemoryStore::new()),
        &IndexKey::from_bytes([0x42; 32]),
        IndexConfig::default(),
    )
    .unwrap();
    let codec = t.codec();
    let e = Entry::live(
        b"v".to_vec(),
        Hlc::new(1_700_000_000_000, 1),
        WriterId([0xaa; 16]),
    );
    let leaf = Node::leaf(vec![b"a/b".to_vec()], vec![e.clone()]);
    let plain = codec.encode(&leaf).unwrap();
    assert_eq!(
        hex::encode(&plain),
        "a36163806165818443612f621b018bcfe56800000150aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4176616c00"
    );
    let (cid, block) = codec.seal(&leaf).unwrap();
    assert_eq!(block.len(), plain.len() + 16);
    assert_eq!(
        &hex::encode(&block)[..32],
        "dd6e36d84e62d8e5cd70ae9748bc9a6a"
    );
    assert_eq!(
        cid.to_string(),
        "bafkr4ifnxlse65n45g4pya7xuuziwwnb6gjnjfwwsj4jazzwruicauhbxe"
    );
    assert_eq!(
        block_on(t.empty_root()).unwrap().to_string(),
        "bafkr4ih32i3qadz6obgaxf6kabwyjswopdbcsgzvgqulka5tywcsgko7s4"
    );
    assert_eq!(block_on(t.build([(b"a/b".to_vec(), e)])).unwrap(), cid);
    assert_eq!(
        codec.secrets.boundary_hash(0, b"a/b"),
        0xcf90_bae0_8eb1_4d86
    );
    assert_eq!(
        token::seal_token(&codec.secrets, b"a/", b"/", b"a/b"),
        "Aer1ld7UK6w7caihAWBEEbDTWfw"
    );
}

/// The index format pinned in `test-vectors/index.json` for other implementations: node bytes,
/// block encryption, CIDs, the boundary hash, a list token, and the root of a 2,000-key tree
/// (history independence means any implementation must reach the same root from the same set).
#[test]
fn index_vectors() {
    use serde_json::json;
    let index_key = [0x42u8; 32];
    let store = Arc::new(MemoryStore::new());
    let t = ProllyTree::new(
        store.clone(),
        &IndexKey::from_bytes(index_key),
        IndexConfig::default(),
    )
    .unwrap();
    let codec = t.codec();
    let e = Entry::live(
        b"v".to_vec(),
        Hlc::new(1_700_000_000_000, 1),
        WriterId([0xaa; 16]),
    );
    let leaf = Node::leaf(vec![b"a/b".to_vec()], vec![e.clone()]);
    let plain = codec.encode(&leaf).unwrap();
    let (cid, block) = codec.seal(&leaf).unwrap();

    let entries: Vec<(Vec<u8>, Entry)> = (0..2000u32)
        .map(|i| {
            let key = format!("photos/{}/IMG_{i:04}.jpg", 2020 + i % 5).into_bytes();
            let value = blake3::hash(&key).as_bytes().to_vec();
            (
                key,
                Entry::live(
                    value,
                    Hlc::new(1_700_000_000_000 + u64::from(i), 0),
                    WriterId([0x01; 16]),
                ),
            )
        })
        .collect();
    let mut sorted = entries.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let root = block_on(t.build(sorted)).unwrap();
    let depth = block_on(t.depth(&root)).unwrap();
    let before = store.len();
    // The same set inserted one by one in a scrambled order reaches the same root.
    let mut scrambled = entries.clone();
    scrambled.sort_by_key(|(k, _)| blake3::hash(k).as_bytes()[0]);
    let mut r = block_on(t.empty_root()).unwrap();
    for (k, e) in scrambled {
        r = block_on(t.put(&r, &k, e)).unwrap();
    }
    assert_eq!(r, root);
    assert!(store.len() >= before);

    crate::vectors_tests::check_or_write(
        "index.json",
        json!({
            "description": "coffer index v1 (docs/FORMAT.md §6). index_key is the vault index key; node_size is the target node size. tree: keys photos/{2020 + i%5}/IMG_{i:04}.jpg for i in 0..2000, value = BLAKE3(key) (32 bytes), time = Hlc(1700000000000 + i, 0) packed as wall_ms<<16|counter (written as a decimal string: it exceeds 2^53), writer = 01 x16",
            "index_key": hex::encode(index_key),
            "node_size": IndexConfig::default().target_node_bytes,
            "leaf": {
                "key": "a/b",
                "value": hex::encode(b"v"),
                "time": Hlc::new(1_700_000_000_000, 1).as_u64().to_string(),
                "writer": hex::encode([0xaa; 16]),
                "plaintext": hex::encode(&plain),
                "block": hex::encode(&block),
                "cid": cid.to_string(),
            },
            "empty_root": block_on(t.empty_root()).unwrap().to_string(),
            "boundary_hash": [
                {"level": 0, "key": "a/b", "hash": format!("{:016x}", codec.secrets.boundary_hash(0, b"a/b"))},
                {"level": 1, "key": "photos/2024/IMG_0001.jpg", "hash": format!("{:016x}", codec.secrets.boundary_hash(1, b"photos/2024/IMG_0001.jpg"))},
            ],
            "list_token": {"prefix": "a/", "delimiter": "/", "after": "a/b", "token": token::seal_token(&codec.secrets, b"a/", b"/", b"a/b")},
            "tree": {"keys": 2000, "root": root.to_string(), "depth": depth},
        }),
    );
}

//! The text parser accepts a label value exactly when it is valid UTF-8, whatever its length
//! (the scanner checks short values word by word and long ones separately).

use proptest::prelude::*;
use scrapeline_exposition::{Format, Parser};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn label_value_utf8_verdict_matches_std(
        value in prop::collection::vec(any::<u8>().prop_filter("delimiters", |c| !matches!(c, b'"' | b'\\' | b'\n')), 0..150),
        quoted_name in any::<bool>(),
    ) {
        let mut body = Vec::new();
        if quoted_name {
            body.extend_from_slice(b"{\"m\",\"");
            body.extend_from_slice(&value);
            body.extend_from_slice(b"x\"=\"v\"} 1\n");
        } else {
            body.extend_from_slice(b"m{l=\"");
            body.extend_from_slice(&value);
            body.extend_from_slice(b"\"} 1\n");
        }
        let parsed = Parser::new(&body, Format::Text).collect::<Result<Vec<_>, _>>();
        prop_assert_eq!(parsed.is_ok(), std::str::from_utf8(&value).is_ok(), "{:?}", parsed);
    }
}

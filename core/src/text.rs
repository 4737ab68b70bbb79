//! Free text a person reads (tenant names, staff reasons, key comments): which characters it may
//! not hold because they hide or disguise what is shown.
//!
//! A name is read by someone else: a support engineer, another user of the tenant, an auditor.
//! Control characters break lines and logs; bidirectional overrides (U+202E) make `gpj.exe` read
//! `exe.jpg`; zero-width characters make two different names look the same. None of them belongs
//! in a name, so they are refused where the name is parsed, in the browser and on the server alike.

/// Whether `c` is a character no name a person reads may contain: C0 and C1 controls (DEL
/// included), the bidirectional marks, embeddings, overrides and isolates, the zero-width and
/// invisible formatting characters, and the byte-order mark.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                // soft hyphen: invisible unless a line breaks there
            | '\u{034F}'              // combining grapheme joiner
            | '\u{061C}'              // Arabic letter mark (bidirectional)
            | '\u{115F}' | '\u{1160}' // Hangul fillers: render as nothing
            | '\u{17B4}' | '\u{17B5}' // Khmer invisible vowels
            | '\u{180B}'..='\u{180F}' // Mongolian variation selectors and vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space, joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, isolates, deprecated format
            | '\u{3164}'              // Hangul filler
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FEFF}'              // byte-order mark / zero-width no-break space
            | '\u{FFA0}'              // halfwidth Hangul filler
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
            | '\u{E0000}'..='\u{E007F}' // tag characters
        )
}

/// Whether `text` holds any [`is_hidden`] character.
pub fn has_hidden(text: &str) -> bool {
    text.chars().any(is_hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidirectional_and_invisible_characters_are_hidden() {
        for c in [
            '\0',
            '\n',
            '\t',
            '\u{1B}',
            '\u{7F}',
            '\u{85}',
            '\u{9F}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{061C}',
            '\u{2028}',
            '\u{E0041}',
        ] {
            assert!(is_hidden(c), "U+{:04X} should be refused", u32::from(c));
        }
    }

    #[test]
    fn ordinary_letters_of_every_script_punctuation_and_spaces_are_not() {
        assert!(!has_hidden("Acme Ltd."));
        assert!(!has_hidden("Müller & Söhne GmbH"));
        assert!(!has_hidden("株式会社メリディアン"));
        assert!(!has_hidden("שלום עולם")); // right-to-left text itself is fine
        assert!(!has_hidden("O'Brien-Smith (EU) #2"));
        assert!(has_hidden("Acme\u{202E}dtL"));
        assert!(has_hidden("\u{FEFF}Acme"));
    }
}

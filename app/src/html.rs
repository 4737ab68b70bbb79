//! Escaping for the few places text reaches HTML without Leptos' own escaping: the
//! server-rendered `<title>` (leptos_meta writes it as is) and anything put in with `inner_html`;
//! and for text put into a link's query.

/// `text` with the characters that mean something in HTML text or a quoted attribute replaced
/// by their entities, so it always reads as the text it is.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// `text` as one value of a URL's query: every byte but letters, digits and `-._~` as `%XX`, so a
/// search for `a&page=9` stays a search for that.
pub fn query_value(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The document title for a page titled `page`: "page · Meridian", or "Meridian".
///
/// Every `<Title>` passes through here (it is the root formatter). On the server the result goes
/// into the HTML unescaped by leptos_meta, so it is escaped here: a tenant named
/// `</title><meta http-equiv=refresh …>` must stay a name. In the browser the title is set as
/// text (`document.title`) and needs no escaping, which would show as entities.
pub fn page_title(page: String) -> String {
    let title = if page.is_empty() {
        "Meridian".to_owned()
    } else {
        format!("{page} · Meridian")
    };
    #[cfg(feature = "ssr")]
    let title = escape(&title);
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_value_cannot_add_parameters() {
        assert_eq!(query_value("a&page=9 é"), "a%26page%3D9%20%C3%A9");
        assert_eq!(query_value("ops@globex.example"), "ops%40globex.example");
    }

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            escape(r#"</title><meta http-equiv="refresh" content='0'>&"#),
            "&lt;/title&gt;&lt;meta http-equiv=&quot;refresh&quot; content=&#39;0&#39;&gt;&amp;"
        );
        assert_eq!(escape("Acme · Ltd"), "Acme · Ltd");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn server_rendered_titles_are_escaped() {
        assert_eq!(page_title(String::new()), "Meridian");
        assert_eq!(
            page_title("Tenant </title><b>".into()),
            "Tenant &lt;/title&gt;&lt;b&gt; · Meridian"
        );
    }
}

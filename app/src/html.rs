//! Escaping for the few places text reaches HTML without Leptos' own escaping: the
//! server-rendered `<title>` (leptos_meta writes it as is) and anything put in with `inner_html`.

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

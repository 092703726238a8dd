//! HTML tables of a [`Report`] for the web desk (issue 17): the same document model
//! the terminal, Excel and CSV renderings use, so a page shows the very figures of the
//! papers and of the JSON (built once, rendered four ways).
//!
//! Guarantees: every text is escaped (maud escapes by construction); each cell's
//! tone is a CSS class *and* its words say it (colour never carries meaning alone);
//! amounts are grouped in the report's unit exactly as [`super::show`] writes them;
//! the first column of a table keyed by county links to that county's page.

use super::{show, Kind, Report, Section, Tone};
use maud::{html, Markup};

/// The CSS class of a tone.
pub fn tone_class(t: Tone) -> &'static str {
    match t {
        Tone::Plain => "",
        Tone::Good => "good",
        Tone::Warn => "warn",
        Tone::Bad => "bad",
        Tone::Info => "info",
        Tone::Dim => "dim",
    }
}

fn kind_class(k: Kind) -> &'static str {
    match k {
        Kind::Text => "t",
        Kind::Money | Kind::Ratio | Kind::Int => "n",
    }
}

/// The report's trace (its as-of, at-seq, hash, unit) as a definition list.
pub fn meta(r: &Report) -> Markup {
    html! {
        dl.meta {
            @for (k, v) in &r.meta {
                div { dt { (k) } dd { (v) } }
            }
        }
    }
}

/// The report's notes, each in its tone.
pub fn notes(r: &Report) -> Markup {
    html! {
        @for (tone, text) in &r.notes {
            p class={ "note " (tone_class(*tone)) } { (text) }
        }
    }
}

/// One section as a titled table; `county_link` turns a county id in the first
/// column into a link to `county_link(id)`.
pub fn section(r: &Report, s: &Section, county_link: Option<&dyn Fn(&str) -> String>) -> Markup {
    let first_is_county = s
        .columns
        .first()
        .is_some_and(|c| c.head == r.lang.pick("县区代码", "county"));
    html! {
        section.report id=(format!("sec-{}", s.key)) {
            h2 { (s.title) }
            @if s.rows.is_empty() {
                p.empty { (s.empty) }
            } @else {
                div.scroll {
                    table.data data-section=(s.key) {
                        thead { tr { @for c in &s.columns { th class=(kind_class(c.kind)) { (c.head) } } } }
                        tbody {
                            @for row in &s.rows {
                                tr {
                                    @for (i, (cell, c)) in row.iter().zip(&s.columns).enumerate() {
                                        @let text = show(&cell.value, r.unit);
                                        td class={ (kind_class(c.kind)) " " (tone_class(cell.tone)) } {
                                            @match (i, first_is_county, county_link, &cell.value) {
                                                (0, true, Some(link), super::Value::Text(id)) => {
                                                    a href=(link(id)) { (text) }
                                                }
                                                _ => { (text) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The sections of `r` whose keys are in `keys`, in the order of `keys` (all, in
/// report order, when `None`).
pub fn sections(
    r: &Report,
    keys: Option<&[&str]>,
    county_link: Option<&dyn Fn(&str) -> String>,
) -> Markup {
    let chosen: Vec<&Section> = match keys {
        None => r.sections.iter().collect(),
        Some(keys) => keys
            .iter()
            .filter_map(|k| r.sections.iter().find(|s| s.key == *k))
            .collect(),
    };
    html! {
        @for s in chosen {
            (section(r, s, county_link))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{Lang, Unit};
    use crate::report::{col, Cell};

    #[test]
    fn a_section_escapes_links_counties_and_says_its_tone() {
        let mut s = Section::new(
            "x",
            "标题",
            "x",
            vec![
                col(Lang::Zh, "县区代码", "county", Kind::Text),
                col(Lang::Zh, "金额", "amount", Kind::Money),
                col(Lang::Zh, "状态", "status", Kind::Text),
            ],
            "（无）",
        );
        s.row(vec![
            Cell::text("C01"),
            Cell::money(crate::money::Money::parse_amount("1234567.80").unwrap()),
            Cell::toned("<预警>", Tone::Bad),
        ]);
        let r = Report {
            name: "t",
            lang: Lang::Zh,
            unit: Unit::Yuan,
            title: "t".into(),
            meta: vec![],
            notes: vec![],
            sections: vec![s],
        };
        let link = |id: &str| format!("/desk/counties/{id}");
        let h = section(&r, &r.sections[0], Some(&link)).into_string();
        assert!(h.contains(r#"<a href="/desk/counties/C01">C01</a>"#), "{h}");
        assert!(h.contains("1,234,567.80"), "{h}");
        assert!(h.contains(r#"class="t bad">&lt;预警&gt;"#), "{h}");
    }
}

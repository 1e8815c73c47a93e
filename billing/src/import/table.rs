//! Reading a registry file (CSV or XLSX) into header-mapped rows with their line numbers.

use super::ImportError;
use calamine::{open_workbook_auto, Data, Reader};
use chrono::{Duration, NaiveDate};
use std::path::Path;

/// A column zvonar understands; unknown columns are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Column {
    Address,
    Street,
    House,
    Fias,
    Apartment,
    Entrance,
    Floor,
    Riser,
    Account,
    Name,
    Phone,
    Kind,
    StartsAt,
    EndsAt,
    Reason,
    Balance,
    DebtSince,
    AsOf,
    Organisation,
    District,
    Consent,
    TimeZone,
}

impl Column {
    /// Maps a header cell (Russian or English, any case) to a column.
    fn from_header(raw: &str) -> Option<Column> {
        let h = raw
            .trim()
            .trim_start_matches('\u{feff}')
            .trim()
            .to_lowercase()
            .replace('ё', "е");
        let c = match h.as_str() {
            "адрес" | "address" => Column::Address,
            "улица" | "street" => Column::Street,
            "дом" | "house" => Column::House,
            "фиас" | "фиас_id" | "fias" | "fias_id" => Column::Fias,
            "квартира" | "кв" | "кв." | "помещение" | "apartment" | "apt" | "flat" => {
                Column::Apartment
            }
            "подъезд" | "entrance" => Column::Entrance,
            "этаж" | "floor" => Column::Floor,
            "стояк" | "riser" => Column::Riser,
            "лс" | "л/с" | "лицевой счет" | "номер лс" | "account" | "account_number" => {
                Column::Account
            }
            "фио" | "name" | "full_name" | "holder" => Column::Name,
            "телефон" | "телефоны" | "phone" | "phones" => Column::Phone,
            "вид" | "что" | "отключение" | "kind" => Column::Kind,
            "начало" | "с" | "starts_at" | "start" => Column::StartsAt,
            "окончание" | "конец" | "по" | "ends_at" | "end" => Column::EndsAt,
            "причина" | "reason" => Column::Reason,
            "долг" | "задолженность" | "сумма долга" | "сальдо" | "баланс" | "balance" | "debt" => {
                Column::Balance
            }
            "неоплаченный месяц"
            | "первый неоплаченный месяц"
            | "месяц долга"
            | "долг с"
            | "долг с месяца"
            | "oldest_unpaid"
            | "oldest_unpaid_month"
            | "debt_since" => Column::DebtSince,
            "на дату" | "дата" | "дата сальдо" | "as_of" | "date" => {
                Column::AsOf
            }
            "организация" | "управляющая организация" | "ук" | "organisation" | "organization" => {
                Column::Organisation
            }
            "район" | "district" => Column::District,
            "согласие" | "согласие на звонки" | "consent" => {
                Column::Consent
            }
            "часовой пояс" | "часовой_пояс" | "пояс" | "time_zone" | "timezone" | "tz" => {
                Column::TimeZone
            }
            _ => return None,
        };
        Some(c)
    }
}

/// One data row: its 1-based line (CSV) or sheet row number (XLSX) and its cells.
pub(crate) struct Row {
    pub(crate) line: usize,
    cells: Vec<String>,
}

/// A file read into memory: which column each cell index holds, and the non-empty data rows.
pub(crate) struct Table {
    columns: Vec<Option<Column>>,
    pub(crate) rows: Vec<Row>,
}

impl Table {
    /// Adds to `missing` the address columns a building needs when the table lacks them:
    /// either `адрес/address`, or both `улица/street` and `дом/house`.
    pub(super) fn require_address(&self, missing: &mut Vec<&'static str>) {
        let has_house = self.has(Column::Street) && self.has(Column::House);
        if !(self.has(Column::Address) || has_house) {
            missing.push("адрес/address or улица/street + дом/house");
        }
    }

    /// Whether the header has `col`.
    pub(crate) fn has(&self, col: Column) -> bool {
        self.columns.contains(&Some(col))
    }

    /// The trimmed cell of `row` in column `col`; `""` when absent or empty.
    pub(crate) fn get<'r>(&self, row: &'r Row, col: Column) -> &'r str {
        self.columns
            .iter()
            .position(|c| *c == Some(col))
            .and_then(|i| row.cells.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    }

    fn from_cells(header: &[String], body: Vec<Row>) -> Self {
        let columns = header.iter().map(|h| Column::from_header(h)).collect();
        let rows = body
            .into_iter()
            .filter(|r| r.cells.iter().any(|c| !c.trim().is_empty()))
            .collect();
        Table { columns, rows }
    }
}

/// Reads `path`: `.xlsx`, `.xlsm`, `.xls`, `.ods` through calamine (first sheet), anything
/// else as CSV.
pub(crate) fn read_table(path: &Path) -> Result<Table, ImportError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => read_sheet(path),
        _ => {
            let bytes = std::fs::read(path).map_err(ImportError::Open)?;
            read_csv(&bytes)
        }
    }
}

/// Parses CSV bytes: UTF-8 with or without BOM, delimiter `;`, `,` or tab chosen by which
/// occurs most in the header line.
pub(crate) fn read_csv(bytes: &[u8]) -> Result<Table, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        return Err(ImportError::NotUtf8 { line });
    }
    let header_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |d: u8| header_line.iter().filter(|b| **b == d).count();
    let delimiter = [b';', b',', b'\t']
        .into_iter()
        .max_by_key(|d| count(*d))
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut header: Option<Vec<String>> = None;
    let mut body = Vec::new();
    // The csv crate reports a record after blank lines at the first blank line, so the
    // line is counted here from the record's byte offset, skipping line breaks.
    let (mut counted_to, mut line) = (0usize, 1usize);
    for record in reader.records() {
        let record = record.map_err(ImportError::Csv)?;
        let mut start = record
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
            .min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
            start += 1;
        }
        if start >= counted_to {
            line += bytes[counted_to..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = start;
        }
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        if header.is_none() {
            header = Some(cells);
        } else {
            body.push(Row { line, cells });
        }
    }
    let header = header.ok_or(ImportError::NoHeader)?;
    Ok(Table::from_cells(&header, body))
}

fn read_sheet(path: &Path) -> Result<Table, ImportError> {
    let mut book = open_workbook_auto(path).map_err(ImportError::Spreadsheet)?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(ImportError::NoHeader)?
        .map_err(ImportError::Spreadsheet)?;
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let mut rows = range.rows().enumerate().map(|(i, cells)| {
        let mut out = vec![String::new(); first_col];
        out.extend(cells.iter().map(cell_text));
        Row {
            line: first_row + i + 1,
            cells: out,
        }
    });
    let header = rows.next().ok_or(ImportError::NoHeader)?;
    Ok(Table::from_cells(&header.cells, rows.collect()))
}

/// A spreadsheet cell as the text a CSV would have held: integral floats without `.0`
/// (phone and account numbers are often stored as numbers), dates as `YYYY-MM-DD HH:MM:SS`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => excel_serial_text(dt.as_f64()),
    }
}

/// Excel serial day number (1900 system: day 0 = 1899-12-30) to `YYYY-MM-DD HH:MM:SS`.
fn excel_serial_text(serial: f64) -> String {
    let base = NaiveDate::from_ymd_opt(1899, 12, 30).and_then(|d| d.and_hms_opt(0, 0, 0));
    let secs = (serial * 86_400.0).round();
    match base {
        Some(base) if secs.is_finite() && secs.abs() < 1e12 => (base
            + Duration::seconds(secs as i64))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string(),
        _ => serial.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn semicolon_csv_with_bom_and_line_numbers() {
        let t = read_csv("\u{feff}ЛС;Квартира\n1;12\n\n2;\"13\n\"\n3;14\n".as_bytes()).unwrap();
        assert!(t.has(Column::Account) && t.has(Column::Apartment));
        let lines: Vec<_> = t.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 6]);
        assert_eq!(t.get(&t.rows[2], Column::Apartment), "14");
        assert_eq!(t.get(&t.rows[0], Column::Phone), "");
    }

    #[test]
    fn excel_dates() {
        assert_eq!(excel_serial_text(45677.5), "2025-01-20 12:00:00");
    }

    #[test]
    fn not_utf8_is_reported_with_line() {
        let err = read_csv(b"a,b\n1,\xff\n").err();
        assert!(
            matches!(err, Some(ImportError::NotUtf8 { line: 2 })),
            "{err:?}"
        );
    }
}

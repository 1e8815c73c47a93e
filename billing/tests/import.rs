//! Registry import: CSV and XLSX, bad rows, idempotence.
#![allow(clippy::unwrap_used)]

mod common;

use common::{db, example, temp_file, temp_path};
use std::sync::Arc;
use zvonar_billing::{import_accounts, ImportError, Registry, SqliteRegistry};
use zvonar_models::PhoneNumber;

#[tokio::test]
async fn example_registry_imports_and_reimport_changes_nothing() {
    let pool = db().await;
    let r = import_accounts(&pool, example("registry.csv"))
        .await
        .unwrap();
    assert_eq!(r.errors, vec![]);
    assert_eq!(r.rows_read, 22);
    assert_eq!(r.buildings_added, 3);
    assert_eq!(r.premises_added, 21);
    assert_eq!(r.accounts_added, 21);
    assert_eq!(r.residents_added, 22);
    assert_eq!(r.phones_added, 17);
    assert_eq!(r.unchanged, 0);

    let again = import_accounts(&pool, example("registry.csv"))
        .await
        .unwrap();
    assert_eq!(again.errors, vec![]);
    assert_eq!(again.rows_read, 22);
    assert_eq!(
        (
            again.buildings_added,
            again.premises_added,
            again.accounts_added
        ),
        (0, 0, 0)
    );
    assert_eq!(
        (again.residents_added, again.phones_added, again.updated),
        (0, 0, 0)
    );
    assert_eq!(again.unchanged, 22);
}

#[tokio::test]
async fn bad_rows_are_reported_with_their_lines_and_the_rest_imported() {
    let pool = db().await;
    // Comma-delimited, English headers, BOM, an address column, a multi-line quoted cell.
    let csv = "\u{feff}Address,Apartment,Account,Name,Phone,Floor\n\
        \"ул. Тверская, д. 7\",1,A-1,\"Орлов\nИван\",89161110001\n\
        \"ул. Тверская, д. 7\",2,,Без ЛС,89161110002\n\
        \n\
        \"ул. Тверская, д. 7\",3,A-3,Плохой телефон,\"89161110003; 12345\"\n\
        \"ул. Тверская, д. 7\",четыре,A-4,Плохая квартира,\n\
        \"ул. Тверская, д. 7\",5,A-5,Плохой этаж,,пятый\n\
        Тверская,6,A-6,Нет дома,\n\
        \"ул. Тверская, д. 7\",7 Б,A-7,Хороший,\"8 916 111 00 07, +7 916 111-00-08\"\n";
    let path = temp_file("bad.csv", csv);
    let r = import_accounts(&pool, &path).await.unwrap();
    let lines: Vec<usize> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![4, 6, 7, 8, 9], "{:?}", r.errors);
    assert!(r.errors[0].reason.contains("account"), "{:?}", r.errors[0]);
    assert!(
        r.errors[1].reason.starts_with("bad phone #2"),
        "{:?}",
        r.errors[1]
    );
    assert!(
        !r.errors[1].reason.contains("12345"),
        "no phone digits in reasons"
    );
    assert!(r.errors[2].reason.contains("apartment"));
    assert!(r.errors[3].reason.contains("floor"));
    assert!(r.errors[4].reason.contains("street and house"));
    assert_eq!(r.rows_read, 7);
    assert_eq!(
        (r.buildings_added, r.accounts_added, r.phones_added),
        (1, 2, 3)
    );

    let reg = SqliteRegistry::new(pool.clone());
    let b = reg.buildings().await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].street.as_str(), b[0].house.as_str()),
        ("ул. Тверская", "7")
    );
    assert_eq!(b[0].address, "ул. Тверская, д. 7");
    let p = PhoneNumber::parse_ru("+79161110008").unwrap();
    let known = reg.find_by_phone(&p).await.unwrap();
    assert_eq!(known.len(), 1);
    assert_eq!(
        (
            known[0].account_number.as_str(),
            known[0].apartment.as_str()
        ),
        ("A-7", "7б")
    );
    // The bad-phone row kept nothing, not even its valid first phone.
    let p3 = PhoneNumber::parse_ru("89161110003").unwrap();
    assert!(reg.find_by_phone(&p3).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_row_the_database_rejects_is_rolled_back_alone() {
    let pool = db().await;
    let csv = "улица;дом;фиас;квартира;лс;телефон\n\
        улица Ленина;5;f1;1;L-1;89160000001\n\
        улица Мира;9;f1;1;M-1;89160000002\n\
        улица Мира;10;;1;M-2;89160000003\n";
    let r = import_accounts(&pool, temp_file("fias.csv", csv))
        .await
        .unwrap();
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].line, 3);
    assert!(r.errors[0].reason.contains("database"));
    assert_eq!(
        (r.buildings_added, r.accounts_added, r.phones_added),
        (2, 2, 2)
    );
    let reg: Arc<dyn Registry> = Arc::new(SqliteRegistry::new(pool));
    let streets: Vec<String> = reg
        .buildings()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.house)
        .collect();
    assert_eq!(streets, vec!["5", "10"]);
}

#[tokio::test]
async fn moved_account_and_new_details_count_as_updated() {
    let pool = db().await;
    let first = "улица;дом;квартира;лс;этаж\nулица Ленина;5;1;L-1;\n";
    import_accounts(&pool, temp_file("a.csv", first))
        .await
        .unwrap();
    let second = "улица;дом;квартира;лс;этаж\nулица Ленина;5;1;L-1;3\nулица ленина;5;2;L-1;\n";
    let r = import_accounts(&pool, temp_file("b.csv", second))
        .await
        .unwrap();
    assert_eq!(r.errors, vec![]);
    assert_eq!((r.updated, r.premises_added, r.buildings_added), (1, 1, 0));
    let reg = SqliteRegistry::new(pool);
    let b = reg.buildings().await.unwrap();
    let (_, acc) = reg.find_premises(b[0].id, "2").await.unwrap().unwrap();
    assert!(acc.is_some());
    let (_, none) = reg.find_premises(b[0].id, "1").await.unwrap().unwrap();
    assert_eq!(none, None);
}

#[tokio::test]
async fn missing_columns_fail_the_whole_file() {
    let pool = db().await;
    let path = temp_file("cols.csv", "фио;телефон\nИванов;89161234567\n");
    match import_accounts(&pool, &path).await {
        Err(ImportError::MissingColumns(cols)) => assert_eq!(cols.len(), 3, "{cols:?}"),
        other => panic!("{other:?}"),
    }
    let missing = temp_path("nope.csv");
    assert!(matches!(
        import_accounts(&pool, &missing).await,
        Err(ImportError::Open(_))
    ));
}

#[tokio::test]
async fn xlsx_registry_imports_like_csv() {
    let path = temp_path("registry.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let text = std::fs::read_to_string(example("registry.csv")).unwrap();
    for (r, line) in text.lines().enumerate() {
        for (c, cell) in line.split(';').enumerate() {
            let (r, c) = (r as u32, c as u16);
            // Account numbers as numeric cells, as spreadsheets tend to store them.
            match cell.parse::<f64>() {
                Ok(n) if c == 7 => sheet.write_number(r, c, n).map(|_| ()),
                _ if cell.is_empty() => Ok(()),
                _ => sheet.write_string(r, c, cell).map(|_| ()),
            }
            .unwrap();
        }
    }
    // A bad row at sheet row 24 (0-based 23), after the example's 22 rows.
    sheet.write_string(23, 0, "улица Ленина").unwrap();
    sheet.write_string(23, 1, "5").unwrap();
    sheet.write_string(23, 3, "99").unwrap();
    sheet.write_string(23, 7, "5000010099").unwrap();
    sheet.write_number(23, 9, 123.0).unwrap();
    book.save(&path).unwrap();

    let pool = db().await;
    let r = import_accounts(&pool, &path).await.unwrap();
    assert_eq!(r.rows_read, 23);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].line, 24);
    assert!(r.errors[0].reason.contains("phone"));
    assert_eq!(
        (r.buildings_added, r.accounts_added, r.phones_added),
        (3, 21, 17)
    );

    let reg = SqliteRegistry::new(pool.clone());
    let known = reg
        .find_by_phone(&PhoneNumber::parse_ru("+79161234567").unwrap())
        .await
        .unwrap();
    assert_eq!(known[0].account_number, "5000010012");

    // The same registry from CSV afterwards adds nothing.
    let csv = import_accounts(&pool, example("registry.csv"))
        .await
        .unwrap();
    assert_eq!(
        (csv.accounts_added, csv.phones_added, csv.unchanged),
        (0, 0, 22)
    );
    let _ = std::fs::remove_file(path);
}

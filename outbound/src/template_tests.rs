//! Template rendering: money, dates, periods in case; errors at save and render time.

use chrono::NaiveDate;

use crate::template::*;

fn values() -> Values {
    Values {
        fio: Some("Иванова Мария Петровна".into()),
        address: Some("ул. Ленина, д. 5, кв. 12".into()),
        account: Some("1234567890".into()),
        debt_kopecks: Some(123_450),
        due_date: NaiveDate::from_ymd_opt(2026, 11, 25),
        period: NaiveDate::from_ymd_opt(2026, 10, 1),
    }
}

fn render(t: &str, v: &Values) -> String {
    Template::parse(t).unwrap().render(v).unwrap()
}

fn debt(k: i64) -> Values {
    Values {
        debt_kopecks: Some(k),
        ..values()
    }
}

fn due(y: i32, m: u32, d: u32) -> Values {
    Values {
        due_date: NaiveDate::from_ymd_opt(y, m, d),
        ..values()
    }
}

/// (template, values, expected speech).
#[test]
fn rendering_table() {
    let rows: Vec<(&str, Values, &str)> = vec![
        // Money, nominative (no preposition), 1/2/5/11/21/101/1000/2000000 roubles and kopecks.
        ("Долг {debt}.", debt(123_450), "Долг тысяча двести тридцать четыре рубля пятьдесят копеек."),
        ("Долг {debt}.", debt(100), "Долг один рубль."),
        ("Долг {debt}.", debt(200), "Долг два рубля."),
        ("Долг {debt}.", debt(500), "Долг пять рублей."),
        ("Долг {debt}.", debt(1_100), "Долг одиннадцать рублей."),
        ("Долг {debt}.", debt(2_100), "Долг двадцать один рубль."),
        ("Долг {debt}.", debt(10_100), "Долг сто один рубль."),
        ("Долг {debt}.", debt(100_000), "Долг тысяча рублей."),
        ("Долг {debt}.", debt(200_000_000), "Долг два миллиона рублей."),
        ("Долг {debt}.", debt(101), "Долг один рубль одна копейка."),
        ("Долг {debt}.", debt(102), "Долг один рубль две копейки."),
        ("Долг {debt}.", debt(105), "Долг один рубль пять копеек."),
        ("Долг {debt}.", debt(111), "Долг один рубль одиннадцать копеек."),
        ("Долг {debt}.", debt(121), "Долг один рубль двадцать одна копейка."),
        ("Долг {debt}.", debt(199_999), "Долг тысяча девятьсот девяносто девять рублей девяносто девять копеек."),
        ("Долг {debt}.", debt(0), "Долг ноль рублей."),
        // Money after prepositions and with explicit cases.
        ("Сумма более {debt}.", debt(123_450), "Сумма более тысячи двухсот тридцати четырёх рублей пятидесяти копеек."),
        ("Задолженность в размере {debt:род}.", debt(2_100), "Задолженность в размере двадцати одного рубля."),
        ("Оплатите {debt:вин}.", debt(123_401), "Оплатите тысячу двести тридцать четыре рубля одну копейку."),
        ("Внесите до конца месяца {debt:вин}", debt(100), "Внесите до конца месяца один рубль"),
        ("К {debt} добавлены пени.", debt(2_102), "К двадцати одному рублю двум копейкам добавлены пени."),
        ("Долг составляет {debt:твор}.", debt(500), "Долг составляет пятью рублями."),
        ("О {debt}.", debt(200), "О двух рублях."),
        // Dates.
        ("Оплатите до {due_date}.", values(), "Оплатите до двадцать пятого ноября."),
        ("Срок — {due_date}.", values(), "Срок — двадцать пятое ноября."),
        ("Срок {due_date:род}.", due(2026, 3, 1), "Срок первого марта."),
        ("Оплатите по {due_date} включительно.", due(2026, 12, 31), "Оплатите по тридцать первое декабря включительно."),
        ("К {due_date} погасите долг.", due(2026, 1, 3), "К третьему января погасите долг."),
        ("Перенесено на {due_date}.", due(2026, 2, 23), "Перенесено на двадцать третье февраля."),
        ("Не позднее {due_date:род}.", due(2026, 6, 12), "Не позднее двенадцатого июня."),
        // Periods.
        ("Долг за {period}.", values(), "Долг за октябрь две тысячи двадцать шестого года."),
        ("Начисления в {period} пересчитаны.", values(), "Начисления в октябре две тысячи двадцать шестого года пересчитаны."),
        ("Квитанция: {period}.", values(), "Квитанция: октябрь две тысячи двадцать шестого года."),
        ("С {period}", values(), "С октября две тысячи двадцать шестого года"),
        // Strings and numbers around them.
        ("{fio}, здравствуйте!", values(), "Иванова Мария Петровна, здравствуйте!"),
        ("Адрес: {address}.", values(), "Адрес: улица Ленина, дом пять, квартира двенадцать."),
        ("Лицевой счёт {account}.", values(), "Лицевой счёт сто двадцать три, четыреста пятьдесят шесть, семьдесят восемь, девяносто."),
        ("Позвоните до 18:00.", values(), "Позвоните до восемнадцати часов."),
        ("Счёт {account}", Values { account: Some("0512".into()), ..values() }, "Счёт ноль пять, двенадцать"),
        // A whole message.
        (
            "{fio}, по адресу {address} задолженность {debt} за {period}. Оплатите до {due_date}.",
            values(),
            "Иванова Мария Петровна, по адресу улица Ленина, дом пять, квартира двенадцать задолженность тысяча двести тридцать четыре рубля пятьдесят копеек за октябрь две тысячи двадцать шестого года. Оплатите до двадцать пятого ноября.",
        ),
    ];
    assert!(rows.len() >= 30);
    for (t, v, want) in rows {
        assert_eq!(render(t, &v), want, "template «{t}»");
    }
}

#[test]
fn errors_at_save_time() {
    let cases: &[(&str, &str)] = &[
        ("Долг {dolg}", "позиция 6: неизвестная переменная {dolg}"),
        ("Долг {debt", "позиция 6: непарная фигурная скобка"),
        ("Долг debt}", "позиция 10: непарная фигурная скобка"),
        ("Долг {de{bt}", "позиция 6: непарная"),
        ("Долг {debt:падеж}", "падеж «падеж» не из списка"),
        ("   ", "пустой шаблон"),
        ("", "пустой шаблон"),
    ];
    for (t, want) in cases {
        let e = Template::parse(t).unwrap_err().to_string();
        assert!(e.contains(want), "«{t}»: got «{e}», want «{want}»");
    }
    let t = Template::parse("{period} {debt} {fio} {debt:род}").unwrap();
    assert_eq!(t.vars(), vec![Var::Fio, Var::Debt, Var::Period]);
    assert_eq!(t.source(), "{period} {debt} {fio} {debt:род}");
}

#[test]
fn errors_at_render_time() {
    let t = Template::parse("{fio}: долг {debt} до {due_date}").unwrap();
    let none = Values {
        fio: Some("  ".into()),
        ..Values::default()
    };
    let e = t.render(&none).unwrap_err();
    assert_eq!(
        e,
        RenderError::Missing(vec![Var::Fio, Var::Debt, Var::DueDate])
    );
    assert_eq!(
        e.to_string(),
        "нет значений для переменных: {fio}, {debt}, {due_date}"
    );
    let e = t.render(&debt(-500)).unwrap_err();
    assert_eq!(e, RenderError::NegativeDebt(-500));
    // A template without {debt} does not need the debt.
    let t = Template::parse("{fio}, вас беспокоит управляющая компания.").unwrap();
    assert!(t
        .render(&Values {
            fio: Some("Пётр".into()),
            ..Values::default()
        })
        .is_ok());
}

/// Rendered text has no digits left for the TTS to guess at.
#[test]
fn output_has_no_digits() {
    let t = Template::parse(
        "{fio}, {address}, л/с {account}: {debt} за {period}, до {due_date}, звоните с 9:00 до 18:00",
    )
    .unwrap();
    for k in [0, 1, 99, 100, 12_345, 100_000_000, 99_999_999] {
        let s = t.render(&debt(k)).unwrap();
        assert!(!s.chars().any(|c| c.is_ascii_digit()), "{s}");
    }
}

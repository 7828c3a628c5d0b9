"""Language, word count and byline metadata."""

from __future__ import annotations

import pytest

from transforms.cleaning import LANGUAGES, clean_byline, detect_language, word_count

SAMPLES = {
    "en": "Fisheries ministers from the two coastal states ended a day of talks on Monday without an agreement on the quotas, an envoy said.",
    "es": "Los ministros de pesca de los dos estados costeros terminaron el lunes una jornada de conversaciones sin acuerdo sobre las cuotas.",
    "fr": "Les ministres de la pêche des deux États côtiers ont terminé lundi une journée de discussions sans accord sur les quotas.",
    "de": "Die Fischereiminister der beiden Küstenstaaten haben am Montag ihre Gespräche ohne Einigung über die Fangquoten beendet.",
    "it": "I ministri della pesca dei due stati costieri hanno concluso lunedì una giornata di colloqui senza un accordo sulle quote.",
    "pt": "Os ministros das pescas dos dois estados costeiros terminaram na segunda-feira um dia de conversações sem acordo sobre as quotas.",
    "tr": "İki kıyı devletinin balıkçılık bakanları pazartesi günü kotalar konusunda anlaşmaya varamadan görüşmeleri tamamladı.",
    "id": "Para menteri perikanan dari kedua negara pantai itu mengakhiri pembicaraan pada hari Senin tanpa menyepakati kuota tangkapan.",
    "ru": "Министры рыболовства двух прибрежных государств в понедельник завершили переговоры, не договорившись о квотах.",
    "ar": "أنهى وزراء الصيد في الدولتين الساحليتين يوم الاثنين محادثات استمرت يوما كاملا دون الاتفاق على حصص الصيد.",
    "fa": "وزیران شیلات دو کشور ساحلی روز دوشنبه بدون توافق بر سر سهمیه‌های صید به گفتگوهای خود پایان دادند.",
    "zh": "两个沿海国家的渔业部长周一结束了为期一天的会谈，但未能就明年的捕鱼配额达成一致。",
    "ja": "沿岸2か国の漁業相は月曜日、来年の漁獲枠で合意できないまま1日にわたる協議を終えた。",
    "ko": "두 해안 국가의 수산부 장관들은 월요일 내년 어획 할당량에 합의하지 못한 채 하루 동안의 회담을 마쳤다.",
    "hi": "दोनों तटीय राज्यों के मत्स्य पालन मंत्रियों ने सोमवार को मछली पकड़ने के कोटे पर सहमति के बिना बातचीत समाप्त की।",
}


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_detects_the_language_of_a_short_lead(lang):
    assert lang in LANGUAGES
    assert detect_language("", [SAMPLES[lang]]) == lang


def test_title_is_used_when_there_is_no_body():
    assert detect_language("Los ministros de pesca terminaron las conversaciones sin acuerdo", []) == "es"


@pytest.mark.parametrize("title,paragraphs", [("", []), ("Ok", []), ("", ["12 34 56"]), ("", ["--- ***"])])
def test_too_little_text_has_no_language(title, paragraphs):
    assert detect_language(title, paragraphs) is None


@pytest.mark.parametrize("text,count", [
    ("", 0),
    ("The ferry left at 9:30 with 1,200 people aboard.", 9),
    ("Don't say it's over \u2014 it isn't.", 6),
    ("\u4e24\u4e2a\u6cbf\u6d77\u56fd\u5bb6", 6),          # CJK: one per character
    ("Seoul \u0026 \ub450 \ud574\uc548", 3),            # Hangul is space-delimited
    ("line one\nline two", 4),
])
def test_word_count(text, count):
    assert word_count(text) == count


@pytest.mark.parametrize("author,byline", [
    ("jdoe@example.org (Jane Doe)", "Jane Doe"),
    ("By Mara Quinn", "Mara Quinn"),
    ("  Tom &amp; Ana  ", "Tom & Ana"),
    ("desk@example.org", None),
    (None, None),
    ("", None),
])
def test_clean_byline(author, byline):
    assert clean_byline(author) == byline

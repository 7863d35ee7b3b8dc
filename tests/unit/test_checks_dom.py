from jenkins_docker_ci.checks.dom import Entry, diff, label, normalise


def el(tag, *children, id="", cls=(), ignored=False):
    return {"tag": tag, "id": id, "class": list(cls), "ignored": ignored, "children": list(children)}


def doc(*body):
    return el("html", el("head", el("title", "Shop"), el("style", "h1 {}")), el("body", *body))


def test_normalise_drops_scripts_styles_head_whitespace_and_ignored_subtrees():
    tree = doc(el("h1", "  Check\n   out  ", id="t"), el("script", "var x = 1"), "\n   ",
               el("div", el("p", "advert"), cls=["ad"], ignored=True), el("p", "Total ", el("b", "42")))
    assert normalise(tree) == [
        Entry("html", "html", ""), Entry("html>body", "body", ""), Entry("html>body>h1", "h1#t", "Check out"),
        Entry("html>body>p", "p", "Total"), Entry("html>body>p>b", "b", "42")]
    assert normalise(None) == []


def test_label_uses_id_and_two_classes():
    assert label(el("button", id="buy", cls=["btn", "primary", "large"])) == "button#buy.btn.primary"
    assert label(el("DIV")) == "div"


def test_text_change_is_named_with_before_and_after():
    before = normalise(doc(el("h1", "Checkout"), el("p", "Total")))
    after = normalise(doc(el("h1", "Pay now"), el("p", "Total")))
    assert diff(before, after) == ["h1: 'Checkout' -> 'Pay now'"]


def test_added_and_removed_elements_are_named():
    before = normalise(doc(el("h1", "Shop"), el("p", "old note", cls=["note"])))
    after = normalise(doc(el("h1", "Shop"), el("button", "Buy", id="buy")))
    assert diff(before, after) == ["removed: p.note 'old note'", "added: button#buy 'Buy'"]
    assert diff(normalise(doc(el("h1", "Shop"))), normalise(doc(el("h1", "Shop"), el("hr")))) == ["added: hr"]


def test_same_tag_with_another_class_is_a_change():
    before = normalise(doc(el("div", "x", cls=["narrow"])))
    after = normalise(doc(el("div", "x", cls=["wide"])))
    assert diff(before, after) == ["changed: div.narrow -> div.wide"]


def test_ignored_region_changes_are_not_reported():
    before = normalise(doc(el("h1", "Shop"), el("div", "ad one", cls=["ad"], ignored=True)))
    after = normalise(doc(el("h1", "Shop"), el("div", "another ad", el("img"), cls=["ad"], ignored=True)))
    assert diff(before, after) == []


def test_long_lists_of_changes_are_cut():
    before = normalise(doc())
    after = normalise(doc(*[el("li", str(i)) for i in range(80)]))
    changes = diff(before, after, limit=10)
    assert len(changes) == 11 and changes[-1] == "... and 70 more"

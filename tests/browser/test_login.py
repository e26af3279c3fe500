"""The map's login: without a session the form shows; a wrong password is refused in the
page's language; the right one opens the map; logging out shows the form again."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Node
from tests.conftest import TEST_PASSWORD, login


def test_log_in_and_out_of_the_map(browser: Any, node: Node, database_url: str) -> None:
    login(node.base, database_url)  # makes the account test-operator
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{node.base}/map/")
        page.locator("#login").wait_for(state="visible")
        assert page.locator("#session").is_hidden()

        page.locator("#login-username").fill("test-operator")
        page.locator("#login-password").fill("not the password")
        page.locator("#login-submit").click()
        page.wait_for_selector("#login-error:not(:empty)")
        assert page.locator("#login-error").text_content() == "Invalid user name or password."

        page.locator("#login-password").fill(TEST_PASSWORD)
        page.locator("#login-submit").click()
        page.wait_for_selector("body[data-ready='true']")
        assert page.locator("#login").is_hidden()
        assert page.locator("#session-user").text_content() == "test-operator (operator)"
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["mdx_session_jcg"]["httpOnly"] is True
        assert page.evaluate("document.cookie") == ""  # the page's scripts never see the token

        page.locator("#lang").select_option("ja")
        assert page.locator("#logout").text_content() == "ログアウト"
        page.locator("#logout").click()
        page.locator("#login").wait_for(state="visible")
        assert page.locator("#login h2").text_content() == "ログイン"
        assert "mdx_session_jcg" not in {c["name"] for c in context.cookies()}
    finally:
        context.close()

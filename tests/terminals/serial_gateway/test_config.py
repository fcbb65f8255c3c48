"""gateway.toml: a good file gives the readers and the queue; a bad one says what is
wrong, in English or Chinese, and the command exits 2 without touching the port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from terminals.client import i18n
from terminals.serial_gateway.config import ConfigError, load, parse
from terminals.serial_gateway.messages import MESSAGES, text

pytestmark = pytest.mark.hardware

SECRET = "ab" * 32
REPO = Path(__file__).resolve().parents[3]


def good() -> dict:
    return {
        "server": {"url": "https://onecard.example.edu/"},
        "queue": {"path": "var/gateway.sqlite3"},
        "gateway": {"status_interval": 5},
        "reader": [{"address": 3, "terminal_id": "POS-0003", "secret": SECRET},
                   {"address": 247, "terminal_id": "ATT-0001", "secret": SECRET.upper()}],
    }


def test_a_good_file_names_the_server_the_queue_and_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[server]\nurl = "http://127.0.0.1:8000"\n[queue]\npath = "q.sqlite3"\n'
                    f'[[reader]]\naddress = 1\nterminal_id = "POS-0001"\nsecret = "{SECRET}"\n')
    config = load(path)
    assert config.server_url == "http://127.0.0.1:8000"
    assert config.queue_path == tmp_path / "q.sqlite3"  # relative to the file
    assert [(r.address, r.terminal_id) for r in config.readers] == [(1, "POS-0001")]
    assert config.timings.time_interval == 3600


def test_secrets_are_kept_in_lowercase_and_timings_read() -> None:
    config = parse(good(), base=Path("/etc/onecard"))
    assert config.readers[1].secret == SECRET
    assert config.timings.status_interval == 5
    assert config.queue_path == Path("/etc/onecard/var/gateway.sqlite3")


def _with(change) -> dict:
    data = good()
    change(data)
    return data


@pytest.mark.parametrize("data, code", [
    (_with(lambda d: d.pop("server")), "config_missing"),
    (_with(lambda d: d["server"].update(url="ftp://x")), "config_server_url"),
    (_with(lambda d: d.pop("queue")), "config_missing"),
    (_with(lambda d: d.pop("reader")), "config_no_readers"),
    (_with(lambda d: d["reader"][0].update(address=0)), "config_reader_address"),
    (_with(lambda d: d["reader"][0].update(address=248)), "config_reader_address"),
    (_with(lambda d: d["reader"][0].update(address="3")), "config_reader_address"),
    (_with(lambda d: d["reader"][1].update(address=3)), "config_duplicate"),
    (_with(lambda d: d["reader"][1].update(terminal_id="POS-0003")), "config_duplicate"),
    (_with(lambda d: d["reader"][0].update(terminal_id="POS 3")), "config_reader_terminal_id"),
    (_with(lambda d: d["reader"][0].update(terminal_id="P" * 33)), "config_reader_terminal_id"),
    (_with(lambda d: d["reader"][0].update(secret="ab" * 31)), "config_reader_secret"),
    (_with(lambda d: d["reader"][0].update(secret="zz" * 32)), "config_reader_secret"),
    (_with(lambda d: d.update(reader=[{"address": a, "terminal_id": f"POS-{a}", "secret": SECRET}
                                      for a in range(1, 34)])), "config_too_many_readers"),
    (_with(lambda d: d["gateway"].update(status_intervl=5)), "config_unknown_key"),
    (_with(lambda d: d["gateway"].update(status_interval=0)), "config_positive"),
])
def test_a_bad_file_is_refused_with_a_message_in_both_languages(data: dict, code: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(data, base=Path("."))
    assert raised.value.code == code
    for lang in i18n.LANGUAGES:
        assert text(code, lang, **raised.value.values)


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    for code, texts in MESSAGES.items():
        assert set(texts) == set(i18n.LANGUAGES), code
        assert i18n.placeholders(texts["en"]) == i18n.placeholders(texts["zh-hans"]), code


@pytest.mark.parametrize("lang, expected", [("en", "an address is 1 to 247"),
                                            ("zh-hans", "地址应为 1 到 247")])
def test_the_command_exits_2_on_a_bad_file_and_says_why(tmp_path: Path, lang: str,
                                                         expected: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[server]\nurl = "http://127.0.0.1:1"\n[queue]\npath = "q"\n'
                    f'[[reader]]\naddress = 300\nterminal_id = "POS-1"\nsecret = "{SECRET}"\n')
    done = subprocess.run([sys.executable, "-m", "terminals.serial_gateway", "--port",
                           "/dev/null-nothing", "--config", str(path), "--lang", lang],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert expected in done.stderr
    assert not (tmp_path / "q").exists()


def test_the_command_refuses_a_baud_rate_outside_the_contract(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "terminals.serial_gateway", "--port", "loop://",
                           "--baud", "4800", "--config", str(tmp_path / "none.toml")],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "9600" in done.stderr

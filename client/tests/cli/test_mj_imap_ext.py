"""Acceptance tests of the `mj imap://...` extension operations against the
small server of test_mj_imap.py, extended here: append of several messages
(one MULTIAPPEND command, or one APPEND each), quota ROOT root (GETQUOTA),
sort and thread (JSON results), and their usage errors.  Runs under
/usr/bin/python3 with pytest; finds mj in $MJ_BIN.
"""

import pytest

from test_mj_imap import ImapServer, mj, verbs


class ExtServer(ImapServer):
    def cmd_sort(self, tag, args, w):
        w(b"* SORT 2 1")
        w(tag + b" OK done")

    def cmd_uid_thread(self, tag, args, w):
        w(b"* THREAD (10)(11 (12 13)(14))((15)(16))")
        w(tag + b" OK done")

    def cmd_getquota(self, tag, args, w):
        w(b'* QUOTA "#user/alice" (STORAGE 10 512)')
        w(tag + b" OK done")


@pytest.fixture
def ext(request):
    srv = ExtServer(**getattr(request, "param", {}))
    yield srv
    srv.close()


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text("Pw-imap-ext-never-print-me\n")
    return str(path)


def two_files(tmp_path):
    a, b = tmp_path / "a.eml", tmp_path / "b.eml"
    a.write_bytes(b"Subject: a\r\n\r\nA\r\n")
    b.write_bytes(b"Subject: b\r\n\r\nBB\r\n")
    return str(a), str(b)


@pytest.mark.parametrize("ext", [{"caps": "IMAP4rev1 UIDPLUS MULTIAPPEND STARTTLS"}], indirect=True)
def test_append_multiappend_one_command(ext, password_file, tmp_path):
    a, b = two_files(tmp_path)
    out = mj(ext, "append", "Drafts", a, "flags=\\Seen $Label", "date=17-Jul-1996 02:44:25 -0700",
             b, "\\Draft", login=password_file, security="starttls")
    assert out["outcome"] == "ok", out
    assert out["result"]["appended"] == 2
    assert verbs(ext).count("APPEND") == 1
    assert ext.appended == [b'Drafts (\\Seen $Label) "17-Jul-1996 02:44:25 -0700" {17}\r\n'
                            b"Subject: a\r\n\r\nA\r\n (\\Draft) {18}\r\nSubject: b\r\n\r\nBB\r\n"]


@pytest.mark.parametrize("ext", [{"caps": "IMAP4rev1 UIDPLUS STARTTLS"}], indirect=True)
def test_append_without_multiappend_one_each(ext, password_file, tmp_path):
    a, b = two_files(tmp_path)
    out = mj(ext, "append", "Drafts", a, b, login=password_file)
    assert out["outcome"] == "ok", out
    assert out["result"]["appended"] == 2
    assert out["result"]["appenduid"] == {"uidvalidity": 1700, "uid": "12,12"}
    assert verbs(ext).count("APPEND") == 2


@pytest.mark.parametrize("ext", [{"caps": "IMAP4rev1 MULTIAPPEND STARTTLS"}], indirect=True)
def test_append_usage_errors_send_no_append(ext, password_file, tmp_path):
    a, _ = two_files(tmp_path)
    for words, text in ((["-", "-"], "stdin"), ([a, "date=yesterday"], "date"),
                        ([a, "flags=\\Seen\tX"], "flag")):
        out = mj(ext, "append", "Drafts", *words, login=password_file, stdin=b"x")
        assert out["outcome"] == "usage", out
        assert text in out["message"].lower(), out
    assert "APPEND" not in verbs(ext)


@pytest.mark.parametrize("ext", [{"caps": "IMAP4rev1 SORT THREAD=REFERENCES QUOTA STARTTLS"}],
                         indirect=True)
def test_sort_thread_quota_root(ext, password_file):
    out = mj(ext, "sort", "INBOX", "REVERSE ARRIVAL", "UNSEEN", login=password_file)
    assert out["result"] == {"numbers": [2, 1]}, out
    out = mj(ext, "thread", "INBOX", "REFERENCES", "uid", login=password_file)
    assert out["result"] == {"threads": [[10], [11, [12, [13]], [14]], [None, [15], [16]]]}, out
    out = mj(ext, "quota", "#user/alice", "root", login=password_file)
    assert out["result"] == {"quota": [{"root": "#user/alice", "resource": "STORAGE",
                                        "usage": 10, "limit": 512}]}, out
    sent = [c.split(b" ", 1)[1] for c in ext.commands]
    assert b"SORT (REVERSE ARRIVAL) UTF-8 UNSEEN" in sent
    assert b"UID THREAD REFERENCES UTF-8 ALL" in sent
    assert b"GETQUOTA #user/alice" in sent


@pytest.mark.parametrize("ext", [{"caps": "IMAP4rev1 STARTTLS"}], indirect=True)
def test_sort_thread_not_advertised_and_usage(ext, password_file):
    out = mj(ext, "sort", "INBOX", "DATE", login=password_file)
    assert out["outcome"] == "usage" and "SORT" in out["message"], out
    out = mj(ext, "thread", "INBOX", "REFERENCES", login=password_file)
    assert out["outcome"] == "usage" and "THREAD=REFERENCES" in out["message"], out
    out = mj(ext, "sort", "INBOX", "NAME", login=password_file)
    assert out["outcome"] == "usage", out
    out = mj(ext, "quota", "INBOX", "roots", login=password_file)
    assert out["outcome"] == "usage", out
    assert not any(v in verbs(ext) for v in ("SORT", "THREAD", "GETQUOTA", "GETQUOTAROOT"))

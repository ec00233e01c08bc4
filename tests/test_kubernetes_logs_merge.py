"""Log lines as the kubelet writes them with `timestamps=true` (Go's RFC3339Nano prefix,
trailing zeros trimmed), merged by time across pods as `argo logs` merges them, and the
pod-to-node mapping Argo's pod annotations give."""

from __future__ import annotations

import pytest

from jupyter_argo.backends._k8s.logs import (
    LogOptions,
    _pods_by_node,
    merge_by_time,
    parse_timestamp,
    split_timestamp,
)
from jupyter_argo.errors import UserError
from jupyter_argo.status import node_id

SECOND = 1_000_000_000
T = 1714557600 * SECOND  # 2024-05-01T10:00:00Z


def test_kubelet_timestamps_parse_to_nanoseconds() -> None:
    assert parse_timestamp("2024-05-01T10:00:00Z") == T
    assert parse_timestamp("2024-05-01T10:00:00.1Z") == T + 100_000_000
    assert parse_timestamp("2024-05-01T10:00:00.123456789Z") == T + 123_456_789
    assert parse_timestamp("2024-05-01T12:00:00.5+02:00") == T + 500_000_000
    for bad in ("", "hello", "2024-05-01 10:00:00Z", "2024-05-01T10:00:00.1234567891Z"):
        assert parse_timestamp(bad) is None
    assert split_timestamp("2024-05-01T10:00:00.000000001Z hello world") == (T + 1, "hello world")
    assert split_timestamp("2024-05-01T10:00:00Z ") == (T, "")
    assert split_timestamp("no time here") == (None, "no time here")


def test_trimmed_fractions_sort_by_time_not_by_text() -> None:
    # As text, ".1Z" sorts after ".12Z"; as times it is before.
    a = [split_timestamp("2024-05-01T10:00:00.12Z second")]
    b = [split_timestamp("2024-05-01T10:00:00.1Z first")]
    merged = merge_by_time([("pod-a", a), ("pod-b", b)])
    assert [(pod, text) for pod, _, text in merged] == [("pod-b", "first"), ("pod-a", "second")]


def test_merge_interleaves_pods_and_keeps_each_pods_order() -> None:
    a = [
        split_timestamp(line)
        for line in (
            "2024-05-01T10:00:01Z a1",
            "2024-05-01T10:00:03Z a2",
            "2024-05-01T10:00:03Z a3",  # same time as b2: a's lines stay together, in order
            "a4 has no time",  # sorts with a3, after it
        )
    ]
    b = [
        split_timestamp(line)
        for line in (
            "2024-05-01T10:00:02Z b1",
            "2024-05-01T10:00:03Z b2",
            "2024-05-01T10:00:04Z b3",
        )
    ]
    merged = merge_by_time([("a", a), ("b", b)])
    assert [text for _, _, text in merged] == ["a1", "b1", "a2", "a3", "a4 has no time", "b2", "b3"]


def test_options_show_timestamps_grep_and_build_the_kubelet_query() -> None:
    line = "2024-05-01T10:00:00.5Z error: disk full"
    assert LogOptions().shown(line) == (T + 500_000_000, "error: disk full")
    assert LogOptions(timestamps=True).shown(line) == (T + 500_000_000, line)
    assert LogOptions(grep="^error").shown(line) is not None
    assert LogOptions(grep="warning").shown(line) is None
    assert LogOptions(grep="^2024", timestamps=True).shown(line) is not None
    query = LogOptions("wait", since_seconds=90.5, tail=10).query(follow=True)
    assert query == {
        "container": "wait",
        "timestamps": "true",
        "follow": "true",
        "sinceSeconds": "90",
        "tailLines": "10",
    }
    assert LogOptions().query(follow=False)["container"] == "main"
    with pytest.raises(UserError, match="not a regular expression"):
        LogOptions(grep="(")


def test_pods_map_to_nodes_through_argos_annotations() -> None:
    pods = [
        {
            "metadata": {
                "name": "wf-echo-1",
                "annotations": {"workflows.argoproj.io/node-id": "wf-1"},
            }
        },
        {  # an older controller: the node name only
            "metadata": {
                "name": "wf-echo-2",
                "annotations": {"workflows.argoproj.io/node-name": "wf[0].b"},
            }
        },
        {"metadata": {"name": "unrelated"}},
    ]
    assert _pods_by_node("wf", pods) == {"wf-1": "wf-echo-1", node_id("wf", "wf[0].b"): "wf-echo-2"}

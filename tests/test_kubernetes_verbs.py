"""`node set`, `stop --node-field-selector`, retry/resubmit `-p`, `resubmit --memoized`,
`submit --from` and the instance ID, formulated on plain dicts and checked against what
Argo's own unit tests assert (workflow/util/util_test.go, workflow/common/convert_test.go
of argo-workflows v4.1.2). The workflows with status are ones Argo wrote, read from
../shared/argo/written-by-argo (never copied here); the same objects go through a real API
server in test_kubernetes_verbs_server.py."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from conftest import written_by_argo

from jupyter_argo.backends._k8s.actions import (
    check_instance,
    formulate_resubmit,
    formulate_retry,
    label_instance,
    override_parameters,
    parse_from,
    set_nodes,
    workflow_from,
)
from jupyter_argo.errors import UserError
from jupyter_argo.status import node_id

# Argo's `susWorkflow` (workflow/util/util_test.go): one active suspend node, `approve`,
# expecting the supplied outputs `message` and `message2` (global `message-global-param`).
SUS_WORKFLOW = "workflow_util_util_test.go__3.0__suspend-template.json"
APPROVE = "suspend-template-kgfn7-2667278707"
# A Running steps workflow whose only step, `approve`, is an active suspend node.
STEPS_SUSPENDED = "workflow_controller_operator_test.go__101.0__steps-9fvnv.json"
STEPS_APPROVE = "steps-9fvnv-3700512507"
# A Failed DAG whose suspend nodes all succeeded: none is active any more.
NESTED_DONE = "workflow_util_util_test.go__8.0__fail-two-nested-dag-suspend.json"


def fixture(name: str = SUS_WORKFLOW) -> dict[str, Any]:
    return written_by_argo(name)


def test_the_argo_written_workflows_are_the_ones_these_tests_expect() -> None:
    sus = fixture()
    assert sus["metadata"]["name"] == "suspend-template"  # its nodes keep -kgfn7
    active = {
        nid: n["displayName"]
        for nid, n in sus["status"]["nodes"].items()
        if n["type"] == "Suspend" and n["phase"] == "Running"
    }
    assert active == {APPROVE: "approve"}
    steps = fixture(STEPS_SUSPENDED)["status"]["nodes"]
    assert (steps[STEPS_APPROVE]["type"], steps[STEPS_APPROVE]["phase"]) == ("Suspend", "Running")
    nested = fixture(NESTED_DONE)
    suspends = [n for n in nested["status"]["nodes"].values() if n["type"] == "Suspend"]
    assert nested["status"]["phase"] == "Failed"
    assert len(suspends) == 6
    assert {n["phase"] for n in suspends} == {"Succeeded"}


# ---- node set (TestUpdateSuspendedNode) ----------------------------------------------------


def test_node_set_follows_argos_update_suspended_node() -> None:
    wf = fixture()
    before = copy.deepcopy(wf)
    with pytest.raises(UserError) as err:
        set_nodes(wf, "displayName=does-not-exists", output_parameters={"message": "Hello World"})
    assert str(err.value) == (
        "currently, set only targets suspend nodes: no suspend nodes matching "
        "nodeFieldSelector: displayName=does-not-exists"
    )
    with pytest.raises(UserError) as err:
        set_nodes(wf, "displayName=approve", output_parameters={"does-not-exist": "Hello World"})
    assert str(err.value) == "node is not expecting output parameter 'does-not-exist'"
    assert wf == before  # a failed set changes nothing

    set_nodes(wf, "displayName=approve", output_parameters={"message": "Hello World"})
    set_nodes(
        wf,
        "name=suspend-template-kgfn7[0].approve",
        output_parameters={"message2": "Hello World 2"},
    )
    node = wf["status"]["nodes"][APPROVE]
    assert node["phase"] == "Running"  # outputs alone do not resume it
    assert node["outputs"]["parameters"] == [
        {"name": "message", "value": "Hello World"},
        {"name": "message2", "globalName": "message-global-param", "value": "Hello World 2"},
    ]
    # AddParamToGlobalScope: "make sure global variable was updated"
    assert wf["status"]["outputs"]["parameters"][0]["value"] == "Hello World 2"
    assert wf["status"]["outputs"]["parameters"] == [
        {"name": "message-global-param", "value": "Hello World 2"}
    ]
    with pytest.raises(UserError, match=r"does not use valueFrom\.raw or it was already"):
        set_nodes(wf, "displayName=approve", output_parameters={"message": "again"})

    no_outputs = fixture()
    del no_outputs["status"]["nodes"][APPROVE]["outputs"]
    with pytest.raises(UserError) as err:
        set_nodes(no_outputs, "displayName=approve", output_parameters={"message": "Hello World"})
    assert str(err.value) == (
        "cannot set output parameters because node is not expecting any raw parameters"
    )


def test_node_set_phase_and_message_and_the_servers_checks() -> None:
    wf = fixture()
    set_nodes(wf, "displayName=approve", phase="Succeeded", message="We did it!")
    node = wf["status"]["nodes"][APPROVE]
    assert (node["phase"], node["message"]) == ("Succeeded", "We did it!")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", node["finishedAt"])
    # No longer an active suspend node: a second set matches nothing.
    with pytest.raises(UserError, match="no suspend nodes matching"):
        set_nodes(wf, "displayName=approve", phase="Failed")
    with pytest.raises(UserError) as err:
        set_nodes(fixture(), "displayName=approve", phase="Running")
    assert str(err.value) == "Running is an invalid phase to set to"
    with pytest.raises(UserError) as err:
        set_nodes(fixture(), "", phase="Succeeded")
    assert "use a node field selector to target them" in str(err.value)
    # Nothing to set on a matching node: Argo reports no update as no match.
    with pytest.raises(UserError, match="no suspend nodes matching"):
        set_nodes(fixture(), "displayName=approve")


def test_only_active_suspend_nodes_are_set_as_update_suspended_node_selects() -> None:
    # Argo's StopWorkflow with a node field selector is updateSuspendedNode with
    # {Phase: Failed, Message}; it only looks at IsActiveSuspendNode (Suspend and Running)
    # and stamps finishedAt since Failed is fulfilled.
    wf = fixture(STEPS_SUSPENDED)
    before = copy.deepcopy(wf)
    set_nodes(wf, "templateName=approve", phase="Failed", message="error occurred")
    approve = wf["status"]["nodes"][STEPS_APPROVE]
    assert (approve["phase"], approve["message"]) == ("Failed", "error occurred")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", approve["finishedAt"])
    for nid, node in before["status"]["nodes"].items():  # the step group and root untouched
        if nid != STEPS_APPROVE:
            assert wf["status"]["nodes"][nid] == node
    assert wf["status"]["phase"] == "Running"
    assert wf["spec"] == before["spec"]

    # Suspend nodes that already succeeded are not active: nothing matches.
    done = fixture(NESTED_DONE)
    for selector in ("displayName=dag1-step2", "templateName=approve", "phase=Succeeded"):
        with pytest.raises(UserError, match="no suspend nodes matching"):
            set_nodes(done, selector, phase="Failed", message="error occurred")
    assert done == fixture(NESTED_DONE)


# ---- parameters (TestApplySubmitOpts, TestFormulateResubmitWorkflow, retry OverrideParams) --


def test_parameters_are_overridden_as_argo_does() -> None:
    wf: dict[str, Any] = {"spec": {"arguments": {"parameters": [{"name": "a", "value": "0"}]}}}
    override_parameters(wf, ["a=81861780812"])
    assert wf["spec"]["arguments"]["parameters"] == [{"name": "a", "value": "81861780812"}]
    # The given ones first, in order, then the rest; a value may hold '='.
    wf = {"spec": {"arguments": {"parameters": [{"name": "x", "value": "1"}, {"name": "y"}]}}}
    override_parameters(wf, ["y=a=b", "z=3"])
    assert wf["spec"]["arguments"]["parameters"] == [
        {"name": "y", "value": "a=b"},
        {"name": "z", "value": "3"},
        {"name": "x", "value": "1"},
    ]
    with pytest.raises(UserError, match="expected parameter of the form: NAME=VALUE"):
        override_parameters(wf, ["a"])


def test_resubmit_keeps_labels_and_overrides_parameters() -> None:
    labels = {
        "workflows.argoproj.io/controller-instanceid": "1",
        "workflows.argoproj.io/cluster-workflow-template": "1",
        "workflows.argoproj.io/cron-workflow": "1",
        "workflows.argoproj.io/workflow-template": "1",
        "workflows.argoproj.io/creator": "1",
        "workflows.argoproj.io/phase": "1",
        "workflows.argoproj.io/completed": "1",
        "workflows.argoproj.io/workflow-archiving-status": "1",
    }
    wf = {
        "metadata": {
            "name": "old",
            "labels": labels,
            "ownerReferences": [{"apiVersion": "test", "name": "testObj"}],
        },
        "spec": {"arguments": {"parameters": [{"name": "message", "value": "default"}]}},
    }
    fresh = formulate_resubmit(wf, parameters=["message=modified"])
    assert set(fresh["metadata"]["labels"]) == {
        "workflows.argoproj.io/controller-instanceid",
        "workflows.argoproj.io/cluster-workflow-template",
        "workflows.argoproj.io/cron-workflow",
        "workflows.argoproj.io/workflow-template",
        "workflows.argoproj.io/resubmitted-from-workflow",
    }
    assert fresh["metadata"]["ownerReferences"] == [{"apiVersion": "test", "name": "testObj"}]
    assert fresh["spec"]["arguments"]["parameters"][0]["value"] == "modified"
    assert "status" not in fresh
    assert "name" not in fresh["metadata"]


def test_retry_overrides_parameters_in_the_spec_and_the_stored_template_spec() -> None:
    params = [{"name": "message", "value": "default"}]
    root = {"id": "override-param-wf", "name": "override-param-wf", "phase": "Succeeded"}
    wf = {
        "metadata": {"name": "override-param-wf", "labels": {}},
        "spec": {"arguments": {"parameters": copy.deepcopy(params)}},
        "status": {
            "phase": "Failed",
            "nodes": {"override-param-wf": {**root, "type": "TaskGroup"}},
            "storedWorkflowTemplateSpec": {"arguments": {"parameters": copy.deepcopy(params)}},
        },
    }
    new, _ = formulate_retry(wf, parameters={"message": "modified"})
    assert new["spec"]["arguments"]["parameters"][0]["value"] == "modified"
    stored = new["status"]["storedWorkflowTemplateSpec"]
    assert stored["arguments"]["parameters"][0]["value"] == "modified"
    assert wf["spec"]["arguments"]["parameters"][0]["value"] == "default"  # a copy was changed


# ---- resubmit --memoized -------------------------------------------------------------------


def test_memoized_resubmit_renames_nodes_and_skips_what_succeeded() -> None:
    old = "memo-abcde"
    nid = lambda n: node_id(old, n)  # noqa: E731
    nodes = {
        old: {
            "id": old,
            "name": old,
            "displayName": old,
            "type": "Steps",
            "phase": "Failed",
            "children": [nid(f"{old}[0]")],
            "outboundNodes": [nid(f"{old}[0].b")],
            "message": "child failed",
        },
        nid(f"{old}[0]"): {
            "id": nid(f"{old}[0]"),
            "name": f"{old}[0]",
            "type": "StepGroup",
            "phase": "Failed",
            "boundaryID": old,
            "children": [nid(f"{old}[0].a"), nid(f"{old}[0].b")],
        },
        nid(f"{old}[0].a"): {
            "id": nid(f"{old}[0].a"),
            "name": f"{old}[0].a",
            "type": "Pod",
            "phase": "Succeeded",
            "boundaryID": old,
            "outputs": {"parameters": [{"name": "p", "value": "1"}]},
        },
        nid(f"{old}[0].b"): {
            "id": nid(f"{old}[0].b"),
            "name": f"{old}[0].b",
            "type": "Pod",
            "phase": "Failed",
            "boundaryID": old,
            "message": "exit code 1",
        },
        nid(f"{old}.onExit"): {
            "id": nid(f"{old}.onExit"),
            "name": f"{old}.onExit",
            "type": "Pod",
            "phase": "Succeeded",
        },
    }
    wf = {
        "metadata": {"name": old, "generateName": "memo-"},
        "spec": {"entrypoint": "main"},
        "status": {"phase": "Failed", "nodes": nodes, "storedTemplates": {"t": {"name": "x"}}},
    }
    fresh = formulate_resubmit(wf, memoized=True)
    new = fresh["metadata"]["name"]
    assert re.fullmatch(r"memo-[a-z0-9]{5}", new)
    new_nodes = fresh["status"]["nodes"]
    assert fresh["status"]["conditions"] == [{"status": "False", "type": "Completed"}]
    assert fresh["status"]["storedTemplates"] == {"t": {"name": "x"}}
    assert "phase" not in fresh["status"]  # WorkflowUnknown
    # TestResubmitWorkflowWithOnExit: the exit handler is never carried over.
    assert node_id(new, f"{new}.onExit") not in new_nodes
    a = new_nodes[node_id(new, f"{new}[0].a")]
    assert (a["type"], a["phase"], a["message"]) == (
        "Skipped",
        "Skipped",
        f"original pod: {nid(f'{old}[0].a')}",
    )
    assert a["outputs"] == {"parameters": [{"name": "p", "value": "1"}]}
    assert a["boundaryID"] == new
    assert a["startedAt"] == a["finishedAt"]
    b = new_nodes[node_id(new, f"{new}[0].b")]
    assert (b["type"], b["phase"], b["startedAt"], b["finishedAt"]) == (
        "Pod",
        "Pending",
        None,
        None,
    )
    assert "message" not in b
    root = new_nodes[new]
    assert (root["phase"], root["children"], root["outboundNodes"]) == (
        "Pending",
        [node_id(new, f"{new}[0]")],
        [node_id(new, f"{new}[0].b")],
    )
    assert "message" not in root
    assert set(new_nodes) == {new, *(node_id(new, f"{new}{s}") for s in ("[0]", "[0].a", "[0].b"))}
    with pytest.raises(UserError) as err:
        formulate_resubmit({**wf, "status": {"phase": "Succeeded"}}, memoized=True)
    assert str(err.value) == "workflow must be Failed/Error to resubmit in memoized mode"


# ---- submit --from (convert_test.go) -----------------------------------------------------


CRON = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "CronWorkflow",
    "metadata": {"name": "hello-world"},
    "spec": {
        "schedules": ["* * * * *"],
        "workflowMetadata": {
            "labels": {"label1": "value1"},
            "annotations": {"annotation2": "value2"},
            "finalizers": ["finalizer1"],
        },
        "workflowSpec": {
            "entrypoint": "whalesay",
            "templates": [{"name": "whalesay", "container": {"image": "docker/whalesay:latest"}}],
        },
    },
}


def test_submit_from_a_cron_workflow_as_convert_cron_workflow_to_workflow() -> None:
    wf = workflow_from("CronWorkflow", "hello-world", CRON)
    annotations = wf["metadata"]["annotations"]
    scheduled = annotations.pop("workflows.argoproj.io/scheduled-time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", scheduled)
    assert wf == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "annotations": {"annotation2": "value2"},
            "finalizers": ["finalizer1"],
            "generateName": "hello-world-",
            "labels": {"label1": "value1", "workflows.argoproj.io/cron-workflow": "hello-world"},
            "ownerReferences": [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "blockOwnerDeletion": True,
                    "controller": True,
                    "kind": "CronWorkflow",
                    "name": "hello-world",
                    "uid": "",
                }
            ],
        },
        "spec": CRON["spec"]["workflowSpec"],
    }
    labelled = copy.deepcopy(CRON)
    labelled["metadata"]["labels"] = {
        "workflows.argoproj.io/controller-instanceid": "test-controller"
    }
    wf = workflow_from("CronWorkflow", "hello-world", labelled)
    assert wf["metadata"]["labels"]["workflows.argoproj.io/controller-instanceid"] == (
        "test-controller"
    )


def test_submit_from_a_workflow_template_as_new_workflow_from_workflow_template() -> None:
    name = "workflow-template-whalesay-template"
    wf = workflow_from(*parse_from(f"workflowtemplate/{name}"))
    assert wf["metadata"] == {
        "generateName": f"{name}-",
        "labels": {"workflows.argoproj.io/workflow-template": name},
    }
    assert wf["spec"] == {"workflowTemplateRef": {"name": name}}
    wf = workflow_from(*parse_from(f"cwftmpl/{name}"))
    assert wf["metadata"]["labels"] == {"workflows.argoproj.io/cluster-workflow-template": name}
    assert wf["spec"] == {"workflowTemplateRef": {"name": name, "clusterScope": True}}
    assert parse_from("cronwf/x") == ("CronWorkflow", "x")
    with pytest.raises(UserError, match=r"is malformed\. Should be `kind/name`"):
        parse_from("hello")
    with pytest.raises(UserError) as err:
        parse_from("pod/x")
    assert str(err.value) == "Resource kind 'pod' is not supported for submitting"


# ---- the instance ID (util/instanceid/service.go) ----------------------------------------


def test_instance_id_label_and_validation() -> None:
    wf: dict[str, Any] = {"metadata": {"name": "w", "labels": {"a": "b"}}}
    label_instance(wf, "i1")
    assert wf["metadata"]["labels"] == {
        "a": "b",
        "workflows.argoproj.io/controller-instanceid": "i1",
    }
    check_instance(wf, "i1")
    with pytest.raises(UserError, match="'w' is not managed by the current Argo Server"):
        check_instance(wf, None)
    with pytest.raises(UserError, match="not managed"):
        check_instance(wf, "i2")
    label_instance(wf, None)  # no instance ID: the label goes, as Argo's Label does
    assert wf["metadata"]["labels"] == {"a": "b"}
    check_instance(wf, None)
    with pytest.raises(UserError, match="not managed"):
        check_instance(wf, "i1")

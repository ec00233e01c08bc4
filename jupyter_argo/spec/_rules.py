"""The rules of Argo's validator (`workflow/validate/validate.go`), applied to one document.

Argo stops at its first error; these rules go on and report every finding, each at the
place in the manifest it is about, with Argo's wording where Argo has one, plus a hint.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

import yaml

from jupyter_argo import expr
from jupyter_argo.errors import ExpressionError
from jupyter_argo.limits import ITEMS_VARIABLE, max_items
from jupyter_argo.spec._cron import cron_problem, known_timezone
from jupyter_argo.spec._scope import (
    LEAF,
    POD,
    TYPE_ORDER,
    Resolved,
    Scope,
    add_outputs,
    as_list,
    as_map,
    as_str,
    did_you_mean,
    is_parameter,
    named,
    strings,
    substitute,
    tags,
    template_type,
    unresolved_hint,
    unsubstitute,
)
from jupyter_argo.spec.lint import Diagnostic, Severity, TemplateStore
from jupyter_argo.spec.parse import TEMPLATE_TYPES, Document, ManifestPath, format_path
from jupyter_argo.spec.schema import field_table

_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GENERATE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*)$")
_TASK_NAME = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)")
_TASK_RESULTS = (
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
)
_RETRY_POLICIES = ("Always", "OnFailure", "OnError", "OnTransientError")
_POD_GC = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")
_RESOURCE_ACTIONS = ("get", "create", "apply", "delete", "replace", "patch")
_ARTIFACT_LOCATIONS = (
    "artifactory",
    "azure",
    "gcs",
    "git",
    "hdfs",
    "http",
    "oss",
    "plugin",
    "raw",
    "s3",
)
_SIMPLE_TAG = re.compile(r"\{\{(?!=).*?\}\}", re.S)
_NAME_LIMITS = {
    "Workflow": ("workflow", 63),
    "WorkflowTemplate": ("workflow template", 63),
    "ClusterWorkflowTemplate": ("cluster workflow template", 63),
    "CronWorkflow": ("cron workflow", 52),
}


@dataclass
class Context:
    """The workflow-level facts every template of a document is checked against."""

    templates: dict[str, dict[str, Any]]
    template_paths: dict[str, ManifestPath]
    globals: Scope
    template_validation: bool  # a WorkflowTemplate: workflow.parameters come from its users
    defaults: dict[str, Any]  # spec.templateDefaults


class Linter:
    """The rules of Argo's validator for one document."""

    def __init__(self, document: Document, store: TemplateStore) -> None:
        self.document = document
        self.store = store
        self.found: list[Diagnostic] = []
        self.reported: set[tuple[ManifestPath, str]] = set()
        self.checked: set[int] = set()  # templates already checked (by id)

    # reporting

    def error(self, path: ManifestPath, message: str, hint: str = "", key: bool = False) -> None:
        self.report("error", path, message, hint, key)

    def warning(self, path: ManifestPath, message: str, hint: str = "") -> None:
        self.report("warning", path, message, hint)

    def report(
        self, severity: Severity, path: ManifestPath, message: str, hint: str, key: bool = False
    ) -> None:
        if (path, message) in self.reported:
            return
        self.reported.add((path, message))
        where = self.document.locate(path, key=key)
        self.found.append(Diagnostic(severity, where, message, hint))

    # documents

    def run(self) -> list[Diagnostic]:
        document = self.document
        body = document.body
        if document.kind == "Template":
            self.bare_templates()
            return self.found
        if document.kind in ("ConfigMap", "Secret"):
            self.store_object(body)
            return self.found
        api = body.get("apiVersion")
        if isinstance(api, str) and api and api != "argoproj.io/v1alpha1":
            self.error(
                ("apiVersion",),
                f"no kind {document.kind} in version {api!r}",
                "Argo's kinds are in argoproj.io/v1alpha1",
            )
        self.metadata(body)
        spec = as_map(body.get("spec"))
        if document.kind == "CronWorkflow":
            self.cron(spec)
            self.workflow_spec(as_map(spec.get("workflowSpec")), ("spec", "workflowSpec"))
        else:
            self.workflow_spec(spec, ("spec",))
        return self.found

    def store_object(self, body: dict[str, Any]) -> None:
        """A ConfigMap or Secret: binary values must be base64, as the API server wants."""
        fields = ("data",) if self.document.kind == "Secret" else ("binaryData",)
        for name in fields:
            for key, value in as_map(body.get(name)).items():
                if isinstance(value, str) and not _is_base64(value):
                    self.error(
                        (name, key),
                        f"{name}.{key} is not base64",
                        "encode it (base64 -w0), or put plain text under "
                        + ("stringData" if name == "data" else "data"),
                    )

    def metadata(self, body: dict[str, Any]) -> None:
        meta = as_map(body.get("metadata"))
        kind = self.document.kind
        name, generate_name = as_str(meta.get("name")), as_str(meta.get("generateName"))
        label, limit = _NAME_LIMITS[kind]
        if len(name) > limit:
            self.error(
                ("metadata", "name"),
                f"{label} name {name!r} must not be more than {limit} characters long "
                f"(currently {len(name)})",
                "shorten it",
            )
        if name and not _DNS_SUBDOMAIN.match(name) and "{{" not in name:
            self.error(
                ("metadata", "name"),
                f"metadata.name {name!r} is not a valid Kubernetes name",
                "use lowercase letters, digits, '-' and '.', starting and ending with a "
                "letter or digit",
            )
        if generate_name and not _GENERATE_NAME.match(generate_name):
            self.error(
                ("metadata", "generateName"),
                f"metadata.generateName {generate_name!r} is not a valid Kubernetes name prefix",
                "use lowercase letters, digits, '-' and '.', starting with a letter or digit",
            )
        if not name and not generate_name and kind != "Workflow":
            self.warning(
                ("metadata",),
                "metadata.name is required",
                f"a {kind} is found by its name",
            )

    def cron(self, spec: dict[str, Any]) -> None:
        schedules = as_list(spec.get("schedules"))
        if not schedules and "schedule" not in spec:  # the old `schedule` is reported already
            self.error(
                ("spec",),
                "cron workflow must have at least one schedule",
                'add spec.schedules, e.g. ["0 * * * *"]',
            )
        for i, schedule in enumerate(schedules):
            if isinstance(schedule, str):
                problem = cron_problem(schedule)
                if problem:
                    self.error(
                        ("spec", "schedules", i),
                        f"cron schedule {schedule} is malformed: {problem}",
                        "five fields: minute hour day-of-month month day-of-week, or @hourly, "
                        "@daily, @every 1h, ...",
                    )
        timezone = spec.get("timezone")
        if isinstance(timezone, str) and timezone and not known_timezone(timezone):
            self.error(
                ("spec", "timezone"),
                f"invalid timezone {timezone!r}",
                "use an IANA name such as Europe/Paris or America/New_York",
            )
        policy = spec.get("concurrencyPolicy")
        if isinstance(policy, str) and policy not in ("Allow", "Forbid", "Replace", ""):
            self.error(
                ("spec", "concurrencyPolicy"),
                f"{policy!r} is not a valid concurrencyPolicy",
                "one of Allow, Forbid, Replace",
            )
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int) and not isinstance(deadline, bool) and deadline < 0:
            self.error(
                ("spec", "startingDeadlineSeconds"), "startingDeadlineSeconds must be positive"
            )
        when = spec.get("when")
        if isinstance(when, str) and when:
            self.expressions(("spec", "when"), when)

    # the workflow spec

    def workflow_spec(self, spec: dict[str, Any], path: ManifestPath) -> None:
        kind = self.document.kind
        template_validation = kind in ("WorkflowTemplate", "ClusterWorkflowTemplate")
        holder = self.workflow_template_ref(spec, path)
        holder_spec = as_map(holder.get("spec")) if holder else {}
        templates, template_paths = self.template_names(spec, path)
        context = Context(
            templates,
            template_paths,
            Scope(),
            template_validation,
            as_map(spec.get("templateDefaults")),
        )
        arguments = as_map(spec.get("arguments"))
        # `argo lint` lints with empty argument values allowed; a CronWorkflow is checked as
        # it will be submitted.
        self.arguments(arguments, (*path, "arguments"), allow_empty=kind != "CronWorkflow")
        merged = _merge_arguments(arguments, as_map(holder_spec.get("arguments")))
        context.globals = self.global_scope(spec, holder_spec, merged, templates)

        entrypoint = as_str(spec.get("entrypoint")) or as_str(holder_spec.get("entrypoint"))
        written = spec.get("entrypoint")
        if not entrypoint and not template_validation and not written:
            self.error(
                (*path, "entrypoint") if "entrypoint" in spec else path,
                "spec.entrypoint is required",
                "name the template to run first",
            )
        workflow_arguments: dict[str, Any] | None = None if template_validation else merged
        if entrypoint:
            entry_path = (*path, "entrypoint") if "entrypoint" in spec else path
            self.workflow_level_call(
                entry_path, entrypoint, holder, spec, context, workflow_arguments
            )
        on_exit = as_str(spec.get("onExit"))
        if on_exit:
            self.workflow_level_call((*path, "onExit"), on_exit, holder, spec, context, merged)
        for name, hook in as_map(spec.get("hooks")).items():
            self.hook((*path, "hooks", name), name, hook, context)
        labels_from = as_map(as_map(spec.get("workflowMetadata")).get("labelsFrom"))
        for label, source in labels_from.items():
            expression = as_map(source).get("expression")
            if isinstance(expression, str) and expression:
                here = (*path, "workflowMetadata", "labelsFrom", label, "expression")
                self.expression(here, expression)
        strategy = as_map(spec.get("podGC")).get("strategy")
        if isinstance(strategy, str) and strategy and strategy not in _POD_GC:
            self.error(
                (*path, "podGC", "strategy"),
                f"podGC.strategy unknown strategy {strategy!r}",
                "one of " + ", ".join(_POD_GC),
            )
        self.pod_resources((*path, "podResources"), spec.get("podResources"))
        for name, template in templates.items():
            self.template(template_paths[name], template, context)

    def workflow_template_ref(
        self, spec: dict[str, Any], path: ManifestPath
    ) -> dict[str, Any] | None:
        ref = spec.get("workflowTemplateRef")
        if not isinstance(ref, dict):
            return None
        ref_path = (*path, "workflowTemplateRef")
        if as_list(spec.get("templates")):
            self.error(
                (*path, "templates"),
                "Templates is invalid field in spec if workflow referred WorkflowTemplate "
                "reference",
                "remove spec.templates, or drop workflowTemplateRef",
                key=True,
            )
        name = as_str(ref.get("name"))
        if not name:
            self.error(ref_path, "workflowTemplateRef.name is required")
            return None
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") is True else "WorkflowTemplate"
        return self.find_workflow_template(kind, name, (*ref_path, "name"))

    def find_workflow_template(
        self, kind: str, name: str, path: ManifestPath
    ) -> dict[str, Any] | None:
        body = self.store.get(kind, name)
        if body is not None:
            return body
        resource = "clusterworkflowtemplates" if kind.startswith("Cluster") else "workflowtemplates"
        if self.store.available:
            self.error(
                path,
                f'{resource}.argoproj.io "{name}" not found',
                f"apply the {kind} first, or lint it together with this manifest",
            )
        else:
            self.warning(
                path,
                f"{kind} {name!r} is not known here, so what uses it is not checked",
                "lint it together with this manifest",
            )
        return None

    def template_names(
        self, spec: dict[str, Any], path: ManifestPath
    ) -> tuple[dict[str, dict[str, Any]], dict[str, ManifestPath]]:
        templates: dict[str, dict[str, Any]] = {}
        paths: dict[str, ManifestPath] = {}
        for i, template in named(spec.get("templates")):
            here = (*path, "templates", i)
            name = self.field_name(here, template, "template", param=False)
            if name is None:
                continue
            if name in templates:
                self.error(
                    (*here, "name"),
                    f"template name {name!r} is not unique",
                    f"another template at {format_path(paths[name])} has it",
                )
                continue
            templates[name] = template
            paths[name] = here
        return templates, paths

    def field_name(
        self,
        path: ManifestPath,
        item: dict[str, Any],
        what: str,
        *,
        param: bool,
        substitutions: dict[str, str] | None = None,
    ) -> str | None:
        """The item's name if present, checked as Argo's validateWorkflowFieldNames does
        (a step's name after substitution, so `run-{{inputs.parameters.x}}` is fine)."""
        name = item.get("name")
        if name is None or name == "":
            self.error(path, f"{what} name is required", "add `name:`")
            return None
        if not isinstance(name, str):
            return None  # the field check reports its type
        written = name
        if substitutions is not None:
            name = substitute(name, substitutions)
        if param:
            if not _PARAM_NAME.match(name):
                self.error(
                    (*path, "name"),
                    f"{what} name {name!r} is invalid: Parameter/Artifact name must consist of "
                    "alpha-numeric characters, '_' or '-'",
                    "e.g. my_param_1, MY-PARAM-1",
                )
        elif len(name) > 128 or not _FIELD_NAME.match(name):
            self.error(
                (*path, "name"),
                f"{what} name {written!r} is invalid: name must consist of alpha-numeric "
                "characters or '-', and must start with an alpha-numeric character"
                + (" (and be at most 128 characters)" if len(name) > 128 else ""),
                "e.g. My-name1-2, 123-NAME",
            )
        return name

    def global_scope(
        self,
        spec: dict[str, Any],
        holder_spec: dict[str, Any],
        arguments: dict[str, Any],
        templates: dict[str, dict[str, Any]],
    ) -> Scope:
        scope = Scope()
        names = scope.names
        names.update(
            f"workflow.{v}"
            for v in (
                "name",
                "namespace",
                "mainEntrypoint",
                "serviceAccountName",
                "uid",
                "status",
                "annotations",
                "annotations.json",
                "labels",
                "labels.json",
            )
        )
        parameters = [p for _, p in named(arguments.get("parameters"))]
        if parameters:
            names.update(("workflow.parameters", "workflow.parameters.json"))
        names.update(f"workflow.parameters.{as_str(p.get('name'))}" for p in parameters)
        metas = [as_map(self.document.body.get("metadata"))]
        metas += [as_map(spec.get("workflowMetadata")), as_map(holder_spec.get("workflowMetadata"))]
        for meta in metas:
            names.update(f"workflow.annotations.{k}" for k in as_map(meta.get("annotations")))
            for labels in ("labels", "labelsFrom"):
                names.update(f"workflow.labels.{k}" for k in as_map(meta.get(labels)))
        if spec.get("priority") is not None:
            names.add("workflow.priority")
        if spec.get("onExit") or holder_spec.get("onExit"):
            names.add("workflow.failures")
        every = list(templates.values()) + [t for _, t in named(holder_spec.get("templates"))]
        for template in every:
            outputs = as_map(template.get("outputs"))
            for kind, flag in (("parameters", "parameter"), ("artifacts", "artifact")):
                for _, output in named(outputs.get(kind)):
                    global_name = as_str(output.get("globalName"))
                    if not global_name:
                        continue
                    if is_parameter(global_name):
                        setattr(scope, f"any_workflow_output_{flag}", True)
                    else:
                        names.add(f"workflow.outputs.{kind}.{global_name}")
        return scope

    def workflow_level_call(
        self,
        path: ManifestPath,
        name: str,
        holder: dict[str, Any] | None,
        spec: dict[str, Any],
        context: Context,
        arguments: dict[str, Any] | None,
    ) -> None:
        """The entrypoint or onExit: a template of this spec, or of the referenced one."""
        if spec.get("workflowTemplateRef") is not None:
            if holder is None:
                return
            holder_templates = {
                as_str(t.get("name")): t
                for _, t in named(as_map(holder.get("spec")).get("templates"))
            }
            template = holder_templates.get(name)
            ref_name = as_str(as_map(holder.get("metadata")).get("name"))
            if template is None:
                self.error(
                    path,
                    f"template reference {ref_name}.{name} not found",
                    did_you_mean(name, holder_templates),
                )
                return
            resolved = Resolved(template, name)
        else:
            if name not in context.templates:
                if "{{" not in name:
                    self.error(
                        path,
                        f"template name {name!r} undefined",
                        did_you_mean(name, context.templates),
                    )
                return
            resolved = Resolved(context.templates[name], name)
        if arguments is not None:
            self.call(path, arguments, resolved, "spec.arguments")

    def hook(self, path: ManifestPath, name: str, hook: Any, context: Context) -> None:
        if not isinstance(hook, dict):
            return
        if name != "exit" and not as_str(hook.get("expression")):
            self.error(
                path,
                f"hooks.{name} Expression required",
                "only the `exit` hook runs without an expression",
            )
        expression = hook.get("expression")
        if isinstance(expression, str) and expression:
            self.expression((*path, "expression"), expression)
        resolved = self.resolve(path, hook, context)
        if resolved is not None and resolved.template is not None:
            self.arguments(as_map(hook.get("arguments")), (*path, "arguments"), allow_empty=False)
            self.call(path, as_map(hook.get("arguments")), resolved, "the hook's arguments")

    def pod_resources(self, path: ManifestPath, resources: Any) -> None:
        resources = as_map(resources)
        if not resources:
            return
        if as_list(resources.get("claims")):
            self.error(
                (*path, "claims"), "claims is not supported for pod-level resources", key=True
            )
        for section in ("limits", "requests"):
            for resource in as_map(resources.get(section)):
                if resource not in ("cpu", "memory") and not resource.startswith("hugepages-"):
                    self.error(
                        (*path, section, resource),
                        f"{resource!r} is not a valid pod-level resource, only cpu, memory and "
                        "hugepages-* are supported",
                        key=True,
                    )

    # arguments and calls

    def arguments(
        self, arguments: dict[str, Any], path: ManifestPath, *, allow_empty: bool
    ) -> None:
        seen: set[str] = set()
        for i, parameter in named(arguments.get("parameters")):
            here = (*path, "parameters", i)
            name = self.field_name(here, parameter, "parameter", param=True)
            if name is None:
                continue
            if name in seen:
                self.error((*here, "name"), f"parameter name {name!r} is not unique")
            seen.add(name)
            value_from = parameter.get("valueFrom")
            if parameter.get("value") is None and value_from is None and not allow_empty:
                self.error(
                    here,
                    f"{name}.value or {name}.valueFrom is required",
                    "give the argument a value",
                )
            if isinstance(value_from, dict):
                allowed = any(value_from.get(k) for k in ("configMapKeyRef", "event"))
                allowed = allowed or value_from.get("supplied") is not None
                wrong = [
                    k for k in ("path", "jsonPath", "parameter", "expression") if value_from.get(k)
                ]
                if not allowed or wrong:
                    self.error(
                        (*here, "valueFrom"),
                        f"{name}.valueFrom only allows: default, configMapKeyRef and supplied",
                        f"{', '.join(wrong)} belong to output parameters" if wrong else "",
                    )
            enum = parameter.get("enum")
            if isinstance(enum, list):
                value = parameter.get("value")
                if not enum:
                    self.error((*here, "enum"), f"{name}.enum should contain at least one value")
                elif value is None:
                    if not allow_empty:
                        self.error(here, f"{name}.value is required", "pick one of its enum")
                elif _text(value) not in [_text(e) for e in enum]:
                    self.error(
                        (*here, "value"),
                        f"{name}.value should be present in {name}.enum list",
                        "one of " + ", ".join(_text(e) for e in enum),
                    )
        seen = set()
        for i, artifact in named(arguments.get("artifacts")):
            here = (*path, "artifacts", i)
            name = self.field_name(here, artifact, "artifact", param=True)
            if name is None:
                continue
            if name in seen:
                self.error((*here, "name"), f"artifact name {name!r} is not unique")
            seen.add(name)
            if not artifact.get("from") and not _has_location(artifact):
                self.error(
                    here,
                    f"{name}.from, artifact location, or key is required",
                    "say where the artifact comes from: from, s3, http, git, raw, ...",
                )
            if artifact.get("from") and artifact.get("fromExpression"):
                self.error(
                    here, f"{name} shouldn't have both `from` and `fromExpression` in Artifact"
                )

    def call(
        self, path: ManifestPath, arguments: dict[str, Any], resolved: Resolved, given_by: str
    ) -> None:
        """Argo's ProcessArgs: every input the template needs is supplied."""
        template = resolved.template
        if template is None:
            return
        supplied = {as_str(p.get("name")): p for _, p in named(arguments.get("parameters"))}
        inputs = as_map(template.get("inputs"))
        for _, parameter in named(inputs.get("parameters")):
            name = as_str(parameter.get("name"))
            value = parameter.get("value")
            if value is None:
                value = parameter.get("default")
            value_from = as_map(parameter.get("valueFrom"))
            if name in supplied:
                value = supplied[name].get("value")
                value_from = as_map(supplied[name].get("valueFrom"))
            if value is None and not value_from.get("configMapKeyRef"):
                self.error(
                    path,
                    f"inputs.parameters.{name} was not supplied",
                    f"template {resolved.name!r} needs it: pass it in {given_by}, "
                    "or give the input a default",
                )
        artifacts = {as_str(a.get("name")) for _, a in named(arguments.get("artifacts"))}
        for _, artifact in named(inputs.get("artifacts")):
            name = as_str(artifact.get("name"))
            if artifact.get("optional") is True or _has_location(artifact):
                continue
            if name not in artifacts:
                self.error(
                    path,
                    f"inputs.artifacts.{name} was not supplied",
                    f"template {resolved.name!r} needs it: pass it in {given_by}, "
                    "or mark the input optional",
                )

    def resolve(
        self, path: ManifestPath, holder: dict[str, Any], context: Context
    ) -> Resolved | None:
        """The template a step, task or hook runs (Argo's validateTemplateHolder)."""
        name = holder.get("template")
        ref = holder.get("templateRef")
        inline = holder.get("inline")
        if isinstance(ref, dict):
            if isinstance(name, str) and name:
                self.error(
                    (*path, "template"),
                    "template name cannot be specified with templateRef",
                    "keep one of them",
                )
            ref_name, ref_template = as_str(ref.get("name")), as_str(ref.get("template"))
            if not ref_name:
                self.error(
                    (*path, "templateRef"), "resource name is required", "add templateRef.name"
                )
                return None
            if not ref_template:
                self.error(
                    (*path, "templateRef"), "template name is required", "add templateRef.template"
                )
                return None
            if "{{" in ref_name or "{{" in ref_template:
                return Resolved(None, ref_template)
            kind = (
                "ClusterWorkflowTemplate" if ref.get("clusterScope") is True else "WorkflowTemplate"
            )
            body = self.find_workflow_template(kind, ref_name, (*path, "templateRef", "name"))
            if body is None:
                return Resolved(None, ref_template)
            found = {
                as_str(t.get("name")): t
                for _, t in named(as_map(body.get("spec")).get("templates"))
            }
            if ref_template not in found:
                self.error(
                    (*path, "templateRef", "template"),
                    f"template reference {ref_name}.{ref_template} not found",
                    did_you_mean(ref_template, found),
                )
                return None
            return Resolved(found[ref_template], ref_template)
        if isinstance(inline, dict):
            self.template((*path, "inline"), inline, context)
            return Resolved(inline, "inline")
        if isinstance(name, str) and name:
            if name in context.templates:
                return Resolved(context.templates[name], name)
            if "{{" in name:
                return Resolved(None, name)
            self.error(
                (*path, "template"),
                f"template name {name!r} undefined",
                did_you_mean(name, context.templates),
            )
            return None
        self.error(path, "no template to run", "give `template`, `templateRef` or `inline`")
        return None

    # templates

    def bare_templates(self) -> None:
        templates: dict[str, dict[str, Any]] = {}
        paths: dict[str, ManifestPath] = {}
        for path, template in self.document.templates():
            name = self.field_name(path, template, "template", param=False)
            if name is not None and name not in templates:
                templates[name] = template
                paths[name] = path
            elif name is not None:
                self.error((*path, "name"), f"template name {name!r} is not unique")
        scope = Scope()
        scope.names.update(
            f"workflow.{v}"
            for v in ("name", "namespace", "mainEntrypoint", "serviceAccountName", "uid", "status")
        )
        context = Context(templates, paths, scope, True, {})
        for name, template in templates.items():
            self.template(paths[name], template, context)

    def template(self, path: ManifestPath, template: dict[str, Any], context: Context) -> None:
        if id(template) in self.checked:
            return
        self.checked.add(id(template))
        name = as_str(template.get("name")) or "inline"
        types = [t for t in TYPE_ORDER if template.get(t) is not None]
        known = field_table().fields("Template")
        misspelt = [k for k in template if k not in known and _close_to_a_type(k)]
        if not types and not misspelt:  # a misspelt type is reported as an unknown field
            self.error(
                path,
                f"template {name!r} has no template type",
                "give it one of: " + ", ".join(TEMPLATE_TYPES),
            )
        elif len(types) > 1:
            self.error(
                (*path, types[1]),
                f"multiple template types specified: {', '.join(types)}",
                "a template is exactly one of "
                + ", ".join(TEMPLATE_TYPES)
                + "; split it into several templates",
                key=True,
            )
        kind = template_type(template)
        if template.get("podResources") is not None:
            if kind in ("http", "plugin"):
                self.error(
                    (*path, "podResources"),
                    f"templates.{name}.podResources is not supported for {kind} templates",
                    key=True,
                )
            self.pod_resources((*path, "podResources"), template.get("podResources"))
        scope = context.globals.copy()
        self.inputs(path, template, kind, scope)
        for i, container in named(template.get("initContainers")):
            if not as_str(container.get("name")):
                self.error(
                    (*path, "initContainers", i),
                    "initContainers must all have container name",
                    "add `name:`",
                )
        if as_list(template.get("resourceClaims")) and kind not in POD:
            self.error(
                (*path, "resourceClaims"),
                f"templates.{name}.resourceClaims is not supported for {kind} templates, which "
                "do not create a pod",
                key=True,
            )
        timeout = template.get("timeout")
        if isinstance(timeout, str) and timeout:
            if kind not in LEAF:
                self.error(
                    (*path, "timeout"), f"{kind} template doesn't support timeout field", key=True
                )
            elif re.fullmatch(r"[+-]?\d+", timeout.strip()):
                self.error(
                    (*path, "timeout"),
                    f"{name} has invalid duration format in timeout",
                    f'add a unit: "{timeout.strip()}s"',
                )
            elif "{{" not in timeout and not _go_duration(timeout.strip()):
                self.error(
                    (*path, "timeout"),
                    f"{name} has invalid duration format in timeout",
                    _DURATION_HINT,
                )
        if template.get("pendingTimeout") and kind not in LEAF:
            self.error(
                (*path, "pendingTimeout"),
                f"{kind} template doesn't support pendingTimeout field",
                key=True,
            )
        retry = as_map(template.get("retryStrategy"))
        policy = retry.get("retryPolicy")
        if isinstance(policy, str) and policy and policy not in _RETRY_POLICIES:
            self.error(
                (*path, "retryStrategy", "retryPolicy"),
                f"{policy} is not a valid RetryPolicy",
                "one of " + ", ".join(_RETRY_POLICIES),
            )
        if isinstance(retry.get("expression"), str) and retry["expression"]:
            self.expression((*path, "retryStrategy", "expression"), retry["expression"])
        self.retry_bounds((*path, "retryStrategy"), name, retry)
        suspend = template.get("suspend")
        if isinstance(suspend, dict):
            self.duration((*path, "suspend", "duration"), suspend.get("duration"))
        if retry:
            scope.names.update(
                (
                    "retries",
                    "lastRetry.exitCode",
                    "lastRetry.status",
                    "lastRetry.duration",
                    "lastRetry.message",
                )
            )
        if kind in LEAF:
            outputs = as_map(template.get("outputs"))
            for _, artifact in named(outputs.get("artifacts")):
                if artifact.get("path"):
                    scope.names.add(f"outputs.artifacts.{as_str(artifact.get('name'))}.path")
            for _, parameter in named(outputs.get("parameters")):
                if as_map(parameter.get("valueFrom")).get("path"):
                    scope.names.add(f"outputs.parameters.{as_str(parameter.get('name'))}.path")
        # Everything in scope so far is substituted by Argo's ProcessArgs, but for input
        # artifacts themselves (only their paths).
        substituted = {
            name
            for name in scope.names
            if not (name.startswith("inputs.artifacts.") and not name.endswith(".path"))
        }
        substituted.add("inputs.parameters")  # the JSON list, set even when it is empty
        scope.substitutions = {
            name: f"placeholder{i}" for i, name in enumerate(sorted(substituted))
        }
        if kind == "steps":
            self.non_leaf(path, template)
            self.steps(path, template, scope, context)
        elif kind == "dag":
            self.non_leaf(path, template)
            self.dag(path, template, scope, context)
        elif kind:
            self.leaf(path, template, kind, scope, context)
        self.outputs(path, template, kind, scope, context)
        location = as_map(template.get("archiveLocation"))
        if isinstance(location.get("git"), dict) and not location["git"].get("repo"):
            self.error(
                (*path, "archiveLocation", "git"),
                f"templates.{name}.archiveLocation.git.repo is required",
            )
        self.metrics(path, template)
        if isinstance(template.get("memoize"), dict):
            self.memoize((*path, "memoize"), template["memoize"])
        self.expressions(path, template)

    def memoize(self, path: ManifestPath, memoize: dict[str, Any]) -> None:
        """What Argo's controller refuses when a memoized node starts (the node ends
        Error), found here when the text is literal: a key its cache does not take, a
        maxAge Go cannot parse, no ConfigMap to cache in."""
        from jupyter_argo.engine.cache import key_problem, max_age_problem

        key = memoize.get("key")
        if not isinstance(key, str) or not key:
            self.error(
                (*path, "key"), "memoize.key is required", 'e.g. key: "{{inputs.parameters.x}}"'
            )
        elif "{{" not in key and key_problem(key):
            self.error(
                (*path, "key"),
                key_problem(key),
                "a memoization key is letters, digits and '-', starting with a letter or "
                "digit, at most 253 characters",
            )
        max_age = memoize.get("maxAge")
        if isinstance(max_age, str) and max_age and "{{" not in max_age:
            problem = max_age_problem(max_age)
            if problem:
                self.error((*path, "maxAge"), problem, 'a Go duration such as "180s" or "24h"')
        cache = as_map(as_map(memoize.get("cache")).get("configMap"))
        if not as_str(cache.get("name")):
            self.error(
                (*path, "cache", "configMap", "name"),
                "memoize.cache.configMap.name is required",
                "the ConfigMap the cache is kept in",
            )

    def duration(self, path: ManifestPath, value: Any) -> None:
        """A duration Argo reads with ParseStringToDuration: whole seconds or a Go duration."""
        if isinstance(value, bool) or value is None or value == "":
            return
        text = str(value).strip()
        if "{{" in text or re.fullmatch(r"[+-]?\d+", text) or _go_duration(text):
            return
        self.error(path, f"unable to parse {text} as a duration", _DURATION_HINT)

    def retry_bounds(self, path: ManifestPath, name: str, retry: dict[str, Any]) -> None:
        """A retryStrategy the local engine can run: a whole-number limit no larger than
        `limits.max_items()`, and backoff durations Argo can parse."""
        limit = retry.get("limit")
        if limit is not None and not isinstance(limit, bool):
            text = str(limit).strip()
            if "{{" in text:
                pass
            elif not re.fullmatch(r"[+-]?\d+", text):
                self.error(
                    (*path, "limit"),
                    f"templates.{name}.retryStrategy.limit {text!r} is not a whole number",
                )
            elif int(text) > max_items():
                self.error(
                    (*path, "limit"),
                    f"templates.{name}.retryStrategy.limit {int(text)} is more than the "
                    f"{max_items()} retries the local engine allows",
                    f"lower it, or set {ITEMS_VARIABLE}",
                )
        backoff = as_map(retry.get("backoff"))
        for key in ("duration", "cap", "maxDuration"):
            self.duration((*path, "backoff", key), backoff.get(key))

    def inputs(self, path: ManifestPath, template: dict[str, Any], kind: str, scope: Scope) -> None:
        inputs = as_map(template.get("inputs"))
        here = (*path, "inputs")
        seen: set[str] = set()
        for i, parameter in named(inputs.get("parameters")):
            name = self.field_name((*here, "parameters", i), parameter, "parameter", param=True)
            if name is None:
                continue
            if name in seen:
                self.error(
                    (*here, "parameters", i, "name"), f"parameter name {name!r} is not unique"
                )
            seen.add(name)
            scope.names.add(f"inputs.parameters.{name}")
        if seen:
            scope.names.add("inputs.parameters")
        seen = set()
        for i, artifact in named(inputs.get("artifacts")):
            at = (*here, "artifacts", i)
            name = self.field_name(at, artifact, "artifact", param=True)
            if name is None:
                continue
            if name in seen:
                self.error((*at, "name"), f"artifact name {name!r} is not unique")
            seen.add(name)
            scope.names.add(f"inputs.artifacts.{name}")
            artifact_path = as_str(artifact.get("path"))
            if kind in LEAF:
                self.artifact_path(at, artifact, f"inputs.artifacts.{name}")
                scope.names.add(f"inputs.artifacts.{name}.path")
            elif artifact_path:
                self.error(
                    (*at, "path"),
                    f"inputs.artifacts.{name}.path only valid in container/script templates",
                    "remove it: only templates that run a pod mount input artifacts",
                )
            if artifact.get("from"):
                self.error(
                    (*at, "from"),
                    f"inputs.artifacts.{name}.from not valid in inputs",
                    "pass `from` in the caller's arguments instead",
                    key=True,
                )
            git = artifact.get("git")
            if isinstance(git, dict) and not git.get("repo"):
                self.error((*at, "git"), f"inputs.artifacts.{name}.git.repo is required")
        if kind in POD:
            scope.names.add("pod.name")

    def artifact_path(self, path: ManifestPath, artifact: dict[str, Any], ref: str) -> None:
        artifact_path = as_str(artifact.get("path"))
        name = as_str(artifact.get("name"))
        if not artifact_path:
            self.error(
                path,
                f"error in {ref}: Artifact {name!r} did not specify a path",
                "add `path:` (where the file is in the container)",
            )
            return
        if "/../" in artifact_path or artifact_path.endswith("/.."):
            safe = artifact_path.split("/../")[0] if "/../" in artifact_path else artifact_path[:-3]
            cleaned = posixpath.normpath(artifact_path)
            if safe and (not cleaned.startswith(safe + "/") or len(cleaned) <= len(safe) + 1):
                self.error(
                    (*path, "path"),
                    f"error in {ref}: Artifact {name!r} attempted to use a path containing "
                    "'..'. Directory traversal is not permitted",
                )

    def non_leaf(self, path: ManifestPath, template: dict[str, Any]) -> None:
        if template.get("activeDeadlineSeconds") is not None:
            self.error(
                (*path, "activeDeadlineSeconds"),
                f"templates.{as_str(template.get('name'))}.activeDeadlineSeconds is only valid "
                "for leaf templates",
                "set it on the templates the steps or tasks run, or use spec.activeDeadlineSeconds",
                key=True,
            )

    def leaf(
        self,
        path: ManifestPath,
        template: dict[str, Any],
        kind: str,
        scope: Scope,
        context: Context,
    ) -> None:
        name = as_str(template.get("name")) or "inline"
        self.variables(template, path, scope, context)
        defaults = context.defaults
        if kind in ("container", "script"):
            body = as_map(template.get(kind))
            if not body.get("image") and not as_map(defaults.get(kind)).get("image"):
                self.error(
                    (*path, kind),
                    f"templates.{name}.{kind}.image may not be empty",
                    f"add {kind}.image, or set it in spec.templateDefaults",
                )
        if kind == "container":
            self.mount_paths(
                path, template, as_map(template.get("container")), (*path, "container")
            )
        if kind == "containerSet":
            self.container_set(path, template)
        for i, sidecar in named(template.get("sidecars")):
            sidecar_name = as_str(sidecar.get("name"))
            if sidecar_name in ("wait", "supervisor") or sidecar_name.startswith(
                "artifact-plugin-"
            ):
                self.error(
                    (*path, "sidecars", i, "name"),
                    f"templates.{name}.sidecars: {sidecar_name!r} is a reserved Argo container "
                    "name",
                    "rename the sidecar",
                )
        if kind == "resource":
            self.resource(path, template)
        deadline = template.get("activeDeadlineSeconds")
        if deadline is not None and not _valid_deadline(deadline):
            self.error(
                (*path, "activeDeadlineSeconds"),
                f"templates.{name}.activeDeadlineSeconds must be a positive integer > 0 or an "
                "argo variable",
            )
        if template.get("parallelism") is not None:
            self.error(
                (*path, "parallelism"),
                f"templates.{name}.parallelism is only valid for steps and dag templates",
                "limit parallelism in the steps or dag template that runs this one",
                key=True,
            )

    def mount_paths(
        self,
        path: ManifestPath,
        template: dict[str, Any],
        container: dict[str, Any],
        container_path: ManifestPath,
    ) -> None:
        name = as_str(template.get("name")) or "inline"
        mounted: dict[str, str] = {}
        for i, mount in named(container.get("volumeMounts")):
            mount_path = as_str(mount.get("mountPath"))
            if mount_path in mounted:
                self.error(
                    (*container_path, "volumeMounts", i, "mountPath"),
                    f"templates.{name}.container.volumeMounts[{i}].mountPath {mount_path!r} "
                    f"already mounted in {mounted[mount_path]}",
                )
            mounted[mount_path] = f"container.volumeMounts.{as_str(mount.get('name'))}"
        if container_path[-1] != "container":
            return
        for i, artifact in named(as_map(template.get("inputs")).get("artifacts")):
            artifact_path = as_str(artifact.get("path"))
            if artifact_path in mounted:
                self.error(
                    (*path, "inputs", "artifacts", i, "path"),
                    f"templates.{name}.inputs.artifacts[{i}].path {artifact_path!r} already "
                    f"mounted in {mounted[artifact_path]}",
                )
            mounted[artifact_path] = f"inputs.artifacts.{as_str(artifact.get('name'))}"

    def container_set(self, path: ManifestPath, template: dict[str, Any]) -> None:
        name = as_str(template.get("name")) or "inline"
        here = (*path, "containerSet")
        body = as_map(template.get("containerSet"))
        containers = [c for _, c in named(body.get("containers"))]
        if not containers:
            self.error(
                here, f"templates.{name}.containerSet.containers must have at least one container"
            )
            return
        names: dict[str, int] = {}
        for i, container in named(body.get("containers")):
            at = (*here, "containers", i)
            container_name = self.field_name(at, container, "container", param=False)
            if container_name is None:
                continue
            if container_name in names:
                self.error((*at, "name"), f"container name {container_name!r} is not unique")
            names.setdefault(container_name, i)
            if container_name in ("wait", "supervisor") or container_name.startswith(
                "artifact-plugin-"
            ):
                self.error(
                    (*at, "name"),
                    f"templates.{name}.containerSet.containers: {container_name!r} is a reserved "
                    "Argo container name",
                )
            for j, dependency in enumerate(as_list(container.get("dependencies"))):
                if isinstance(dependency, str) and dependency not in [
                    as_str(c.get("name")) for c in containers
                ]:
                    self.error(
                        (*at, "dependencies", j),
                        f"templates.{name}.containerSet.containers.{container_name} dependency "
                        f"{dependency!r} not defined",
                        did_you_mean(dependency, names),
                    )
        self.mount_paths(path, template, body, here)
        graph = {
            as_str(c.get("name")): [d for d in as_list(c.get("dependencies")) if isinstance(d, str)]
            for c in containers
        }
        cycle = _find_cycle(graph)
        if cycle:
            self.error(
                here,
                f"templates.{name}.containerSet.containers dependency cycle "
                f"detected: {'->'.join(cycle)}",
            )
        needs_main = as_list(as_map(template.get("inputs")).get("artifacts")) or any(
            as_list(as_map(template.get("outputs")).get(k)) for k in ("parameters", "artifacts")
        )
        if needs_main and "main" not in names:
            self.error(
                (*here, "containers"),
                f'templates.{name}.containerSet.containers must have a container named "main" '
                "for input or output",
                "name the container that reads inputs and writes outputs `main`",
            )

    def resource(self, path: ManifestPath, template: dict[str, Any]) -> None:
        name = as_str(template.get("name")) or "inline"
        here = (*path, "resource")
        resource = as_map(template.get("resource"))
        action = as_str(resource.get("action"))
        if "{{" not in action and action not in _RESOURCE_ACTIONS:
            self.error(
                (*here, "action") if "action" in resource else here,
                f"templates.{name}.resource.action must be one of: " + ", ".join(_RESOURCE_ACTIONS),
            )
        if action in ("delete", "get"):
            return
        manifest = resource.get("manifest")
        manifest_from = resource.get("manifestFrom")
        if not manifest and manifest_from is None:
            self.error(
                here,
                f"either templates.{name}.resource.manifest or templates.{name}.resource."
                "manifestFrom must be specified",
            )
        if manifest and manifest_from is not None:
            self.error(
                here,
                "shouldn't have both `manifest` and `manifestFrom` specified in `Manifest` for "
                "resource template",
            )
        artifact = as_map(as_map(manifest_from).get("artifact"))
        if artifact:
            wanted = as_str(artifact.get("name"))
            names = [
                as_str(a.get("name"))
                for _, a in named(as_map(template.get("inputs")).get("artifacts"))
            ]
            if wanted not in names:
                self.error(
                    (*here, "manifestFrom", "artifact", "name"),
                    f"artifact {wanted} in `manifestFrom` refer to a non-exist artifact",
                    did_you_mean(wanted, names),
                )
        if isinstance(manifest, str) and manifest:
            # Argo checks the manifest is YAML once every {{...}} is replaced by a placeholder.
            text = re.sub(r"\{\{.*?\}\}", "placeholder", manifest, flags=re.S)
            try:
                yaml.safe_load(text)
            except (yaml.YAMLError, RecursionError):
                self.error(
                    (*here, "manifest"),
                    f"templates.{name}.resource.manifest must be a valid yaml",
                    "write it as a YAML block: `manifest: |` followed by the indented object",
                )

    def outputs(
        self,
        path: ManifestPath,
        template: dict[str, Any],
        kind: str,
        scope: Scope,
        context: Context,
    ) -> None:
        name = as_str(template.get("name")) or "inline"
        outputs = as_map(template.get("outputs"))
        if not outputs:
            return
        here = (*path, "outputs")
        self.variables(outputs, here, scope, context)
        seen: set[str] = set()
        for i, artifact in named(outputs.get("artifacts")):
            at = (*here, "artifacts", i)
            artifact_name = self.field_name(at, artifact, "artifact", param=True)
            if artifact_name is None:
                continue
            if artifact_name in seen:
                self.error((*at, "name"), f"artifact name {artifact_name!r} is not unique")
            seen.add(artifact_name)
            ref = f"outputs.artifacts.{artifact_name}"
            if kind in LEAF:
                self.artifact_path(at, artifact, f"templates.{name}.{ref}")
            elif artifact.get("path"):
                self.error(
                    (*at, "path"),
                    f"templates.{name}.{ref}.path only valid in container/script templates",
                    "a steps or dag template passes artifacts on with `from`",
                )
            self.global_name(at, artifact, f"templates.{name}.{ref}")
        seen = set()
        for i, parameter in named(outputs.get("parameters")):
            at = (*here, "parameters", i)
            parameter_name = self.field_name(at, parameter, "parameter", param=True)
            if parameter_name is None:
                continue
            if parameter_name in seen:
                self.error((*at, "name"), f"parameter name {parameter_name!r} is not unique")
            seen.add(parameter_name)
            ref = f"templates.{name}.outputs.parameters.{parameter_name}"
            self.output_parameter(at, parameter, ref, kind)
            self.global_name(at, parameter, ref)

    def output_parameter(
        self, path: ManifestPath, parameter: dict[str, Any], ref: str, kind: str
    ) -> None:
        value_from = parameter.get("valueFrom")
        if value_from is not None and parameter.get("value") is not None:
            self.error(path, f"{ref} has both valueFrom and value specified, choose one")
            return
        if parameter.get("value") is not None:
            return
        if not isinstance(value_from, dict):
            self.error(
                path,
                f"{ref} does not have valueFrom or value specified",
                "add valueFrom.path (a file the container writes) or value",
            )
            return
        sources = [
            k
            for k in ("path", "jqFilter", "jsonPath", "parameter", "expression")
            if value_from.get(k)
        ]
        if value_from.get("supplied") is not None:
            sources.append("supplied")
        if not sources:
            self.error(
                (*path, "valueFrom"),
                "valueFrom type unspecified. choose one of: path, jqFilter, jsonPath, parameter, "
                "raw, expression",
            )
            return
        if len(sources) > 1:
            self.error(
                (*path, "valueFrom"),
                f"multiple valueFrom types specified ({', '.join(sources)}). choose one of: path, "
                "jqFilter, jsonPath, parameter, raw",
            )
            return
        if kind in ("container", "containerSet", "script") and not value_from.get("path"):
            self.error((*path, "valueFrom"), f"{ref}.path must be specified for {kind} templates")
        elif kind == "resource" and not (value_from.get("jqFilter") or value_from.get("jsonPath")):
            self.error(
                (*path, "valueFrom"),
                f"{ref} .jqFilter or jsonPath must be specified for {kind} templates",
            )
        elif kind in ("steps", "dag") and not (
            value_from.get("parameter") or value_from.get("expression")
        ):
            self.error(
                (*path, "valueFrom"),
                f"{ref}.parameter or expression must be specified for {kind} templates",
            )
        expression = value_from.get("expression")
        if isinstance(expression, str) and expression:
            self.expression((*path, "valueFrom", "expression"), expression)

    def global_name(self, path: ManifestPath, output: dict[str, Any], ref: str) -> None:
        global_name = as_str(output.get("globalName"))
        if global_name and not is_parameter(global_name) and not _PARAM_NAME.match(global_name):
            self.error(
                (*path, "globalName"),
                f"{ref}.globalName: Parameter/Artifact name must consist of alpha-numeric "
                "characters, '_' or '-' e.g. my_param_1, MY-PARAM-1",
            )

    def metrics(self, path: ManifestPath, template: dict[str, Any]) -> None:
        name = as_str(template.get("name")) or "inline"
        for i, metric in named(as_map(template.get("metrics")).get("prometheus")):
            at = (*path, "metrics", "prometheus", i)
            metric_name = as_str(metric.get("name"))
            if not _METRIC_NAME.match(metric_name):
                self.error(
                    (*at, "name"),
                    f"templates.{name} metric name {metric_name!r} is invalid. Metric names must "
                    "contain alphanumeric characters or '_'",
                )
            for j, label in named(metric.get("labels")):
                key = as_str(label.get("key"))
                if not _METRIC_NAME.match(key):
                    self.error(
                        (*at, "labels", j, "key"),
                        f"metric label {key!r} is invalid: keys may only contain alphanumeric "
                        "characters or '_'",
                    )
            if not as_str(metric.get("help")):
                self.error(
                    at,
                    f"templates.{name} metric {metric_name!r} must contain a help string under "
                    "'help: ' field",
                )
            for kind in ("gauge", "counter", "histogram"):
                body = metric.get(kind)
                if isinstance(body, dict) and not as_str(body.get("value")):
                    self.error(
                        (*at, kind),
                        f"templates.{name} metric {metric_name!r} error: missing {kind}.value",
                    )
            gauge = as_map(metric.get("gauge"))
            if gauge.get("realtime") is True and "resourcesDuration." in as_str(gauge.get("value")):
                self.error(
                    (*at, "gauge", "value"),
                    f"templates.{name} metric {metric_name!r} error: 'resourcesDuration.*' "
                    "metrics cannot be used in real-time",
                )
            when = metric.get("when")
            if isinstance(when, str) and when:
                self.when((*at, "when"), when)

    # steps

    def steps(
        self, path: ManifestPath, template: dict[str, Any], scope: Scope, context: Context
    ) -> None:
        template_name = as_str(template.get("name")) or "inline"
        substitutions = scope.substitutions
        all_steps = {
            substitute(as_str(step.get("name")), substitutions)
            for group in as_list(template.get("steps"))
            for _, step in named(group)
        }
        seen: set[str] = set()
        for i, group in enumerate(as_list(template.get("steps"))):
            for j, step in named(group):
                at = (*path, "steps", i, j)
                step_name = self.field_name(
                    at, step, "step", param=False, substitutions=substitutions
                )
                if step_name is None:
                    continue
                step_name = substitute(step_name, substitutions)
                if step_name in seen:
                    self.error(
                        (*at, "name"),
                        f"templates.{template_name}.steps[{i}].name {step.get('name')!r} is not "
                        "unique",
                        "step names must differ across all groups of a template",
                    )
                    continue
                seen.add(step_name)
                scope.names.add(f"steps.{step_name}.status")
                self.loop(at, step, scope)
                self.arguments(as_map(step.get("arguments")), (*at, "arguments"), allow_empty=False)
                resolved = self.resolve(at, step, context)
                hooks = as_map(step.get("hooks"))
                if "exit" in hooks or step.get("onExit"):
                    add_outputs(resolved, "steps", step_name, scope, aggregate=False)
                for hook_name, hook in hooks.items():
                    self.hook((*at, "hooks", hook_name), hook_name, hook, context)
                step_scope = scope.copy()
                self.inline_inputs(step, step_scope)
                self.variables(step, at, step_scope, context, steps=all_steps, loop_owner=step)
                when = step.get("when")
                if isinstance(when, str) and when:
                    self.when((*at, "when"), when, scope)
                aggregate = bool(as_list(step.get("withItems"))) or bool(step.get("withParam"))
                add_outputs(resolved, "steps", step_name, scope, aggregate=aggregate)
                if resolved is not None:
                    self.call(at, as_map(step.get("arguments")), resolved, "the step's arguments")

    def inline_inputs(self, holder: dict[str, Any], scope: Scope) -> None:
        inline = as_map(holder.get("inline"))
        for _, parameter in named(as_map(inline.get("inputs")).get("parameters")):
            scope.names.add(f"inputs.parameters.{as_str(parameter.get('name'))}")

    def loop(self, path: ManifestPath, holder: dict[str, Any], scope: Scope) -> None:
        """Argo's addItemsToScope: the item variables a step or task may use."""
        items = as_list(holder.get("withItems"))
        param = holder.get("withParam")
        sequence = holder.get("withSequence")
        given = [
            k
            for k, v in (("withItems", items), ("withParam", param), ("withSequence", sequence))
            if v
        ]
        if len(given) > 1:
            self.error(
                (*path, given[1]),
                "only one of withItems, withParam, withSequence can be specified",
                key=True,
            )
        if len(items) > max_items():
            self.error(
                (*path, "withItems"),
                f"withItems has {len(items)} items, more than the {max_items()} a loop may "
                "expand to",
                f"split the loop, or set {ITEMS_VARIABLE}",
            )
        if isinstance(sequence, dict):
            self.sequence((*path, "withSequence"), sequence)
        if items:
            for item in items:
                if isinstance(item, list):
                    scope.names.update(f"item.[{k}]" for k in range(len(item)))
                elif isinstance(item, dict):
                    scope.names.update(f"item.{k}" for k in item)
                else:
                    scope.names.add("item")
        elif param:
            scope.names.add("item")
            scope.any_item = True
        elif isinstance(sequence, dict):
            if sequence.get("count") is not None and sequence.get("end") is not None:
                self.error(
                    (*path, "withSequence"),
                    "only one of count or end can be defined in withSequence",
                )
            scope.names.add("item")

    def sequence(self, path: ManifestPath, sequence: dict[str, Any]) -> None:
        """Argo's expandSequence on what is known before the run: numbers that parse, and
        no more items than `limits.max_items()`."""
        numbers: dict[str, int | None] = {}
        for key in ("start", "end", "count"):
            value = sequence.get(key)
            if value is None or isinstance(value, bool):
                numbers[key] = None
                continue
            text = str(value).strip()
            if "{{" in text:
                return  # known only when it runs: the engine checks it then
            if not re.fullmatch(r"[+-]?\d+", text):
                self.error(
                    (*path, key),
                    f"failed to parse sequence {key}: {text!r} is not a whole number",
                )
                return
            numbers[key] = int(text)
        start = numbers["start"] or 0
        if numbers["end"] is not None:
            size = abs(numbers["end"] - start) + 1
        elif numbers["count"] is not None:
            size = abs(numbers["count"])
        else:
            return
        if size > max_items():
            self.error(
                path,
                f"withSequence expands to {size} items, more than the {max_items()} a loop "
                "may expand to",
                f"split the loop, or set {ITEMS_VARIABLE}",
            )

    # dags

    def dag(
        self, path: ManifestPath, template: dict[str, Any], scope: Scope, context: Context
    ) -> None:
        template_name = as_str(template.get("name")) or "inline"
        dag = as_map(template.get("dag"))
        here = (*path, "dag")
        tasks: dict[str, tuple[ManifestPath, dict[str, Any]]] = {}
        for i, task in named(dag.get("tasks")):
            at = (*here, "tasks", i)
            name = self.field_name(at, task, "task", param=False)
            if name is None:
                continue
            if name in tasks:
                self.error(
                    (*at, "name"),
                    f"templates.{template_name}.tasks[{i}].name {name!r} is not unique",
                )
                continue
            tasks[name] = (at, task)
        if not tasks and not as_list(dag.get("tasks")):
            self.error(
                here, f"templates.{template_name} must have at least one task", "add dag.tasks"
            )
            return
        using_depends = any(t.get("depends") for _, t in tasks.values())
        using_dependencies = any(as_list(t.get("dependencies")) for _, t in tasks.values())
        if using_depends and using_dependencies:
            self.error(
                here,
                f"templates.{template_name} cannot use both 'depends' and 'dependencies' in the "
                "same DAG template",
                "rewrite `dependencies: [a, b]` as `depends: a && b`",
            )
        dependencies: dict[str, dict[str, str]] = {}
        for name, (at, task) in tasks.items():
            dependencies[name] = self.task_dependencies(at, name, task, tasks)
            if (using_depends or using_dependencies) and name[:1].isdigit():
                self.error(
                    (*at, "name"),
                    f"templates.{template_name}.tasks.{name} name cannot begin with a digit when "
                    "using either 'depends' or 'dependencies'",
                )
            if using_depends and task.get("continueOn") is not None:
                self.error(
                    (*at, "continueOn"),
                    f"templates.{template_name} cannot use 'continueOn' when using 'depends'. "
                    "Instead use 'dep-task.Failed'/'dep-task.Errored'",
                    key=True,
                )
        graph = {name: list(deps) for name, deps in dependencies.items()}
        cycle = _find_cycle(graph)
        if cycle:
            at = tasks[cycle[0]][0]
            self.error(
                at,
                f"templates.{template_name}.tasks dependency cycle detected: {'->'.join(cycle)}",
                "a task cannot depend on itself, directly or through others",
            )
        resolved: dict[str, Resolved | None] = {}
        for name, (at, task) in tasks.items():
            resolved[name] = self.resolve(at, task, context)
            aggregate = bool(as_list(task.get("withItems"))) or bool(task.get("withParam"))
            add_outputs(resolved[name], "tasks", name, scope, aggregate=aggregate)
        target = dag.get("target")
        if isinstance(target, str) and target:
            self.variables(target, (*here, "target"), scope, context, tasks=set(tasks))
            for target_name in target.split(" "):
                if target_name and not is_parameter(target_name) and target_name not in tasks:
                    self.error(
                        (*here, "target"),
                        f"templates.{template_name}.targets: target {target_name!r} is not defined",
                        did_you_mean(target_name, tasks),
                    )
        for name, (at, task) in tasks.items():
            hooks = as_map(task.get("hooks"))
            if hooks:
                scope.names.add(f"tasks.{name}.status")
            add_outputs(resolved[name], "tasks", name, scope, aggregate=False)
            for hook_name, hook in hooks.items():
                self.hook((*at, "hooks", hook_name), hook_name, hook, context)
        for name, (at, task) in tasks.items():
            task_scope = scope.copy()
            ancestry = _ancestry(name, dependencies) if not cycle else []
            for ancestor in ancestry:
                ancestor_task = tasks[ancestor][1]
                aggregate = bool(as_list(ancestor_task.get("withItems"))) or bool(
                    ancestor_task.get("withParam")
                )
                add_outputs(
                    resolved.get(ancestor),
                    "tasks",
                    ancestor,
                    task_scope,
                    aggregate=aggregate,
                    ancestor=True,
                )
            self.inline_inputs(task, task_scope)
            self.loop(at, task, task_scope)
            self.variables(
                task,
                at,
                task_scope,
                context,
                tasks=set(tasks),
                loop_owner=task,
                ancestry=set(ancestry),
            )
            arguments = as_map(task.get("arguments"))
            self.arguments(arguments, (*at, "arguments"), allow_empty=False)
            for i, parameter in named(arguments.get("parameters")):
                value = parameter.get("value")
                if isinstance(value, str) and value.startswith("{{tasks."):
                    ref = value.split(".")[1]
                    if ref not in ancestry and ref in tasks:
                        self.error(
                            (*at, "arguments", "parameters", i, "value"),
                            f"missing dependency {ref!r} for parameter "
                            f"{as_str(parameter.get('name'))!r}",
                            f"add {ref} to this task's depends",
                        )
            for i, artifact in named(arguments.get("artifacts")):
                source = as_str(artifact.get("from"))
                if source.startswith("{{tasks."):
                    ref = source.split(".")[1]
                    if ref not in ancestry and ref in tasks:
                        self.error(
                            (*at, "arguments", "artifacts", i, "from"),
                            f"missing dependency {ref!r} for artifact "
                            f"{as_str(artifact.get('name'))!r}",
                            f"add {ref} to this task's depends",
                        )
            when = task.get("when")
            if isinstance(when, str) and when:
                self.when((*at, "when"), when, scope)
            runs = resolved.get(name)
            if runs is not None:
                self.call(at, arguments, runs, "the task's arguments")

    def task_dependencies(
        self,
        path: ManifestPath,
        name: str,
        task: dict[str, Any],
        tasks: dict[str, tuple[ManifestPath, dict[str, Any]]],
    ) -> dict[str, str]:
        """The tasks `task` depends on, and how ("task" or "items"), as Argo reads them."""
        found: dict[str, str] = {}
        depends = task.get("depends")
        if isinstance(depends, str) and depends.strip():
            results_valid = True
            # Argo finds the dependencies with its task-name regex, whatever the syntax.
            for match in _TASK_NAME.finditer(depends):
                if match.group(1):
                    dependency, result = match.group(1).split(".", 1)
                    if result not in _TASK_RESULTS:
                        results_valid = False
                        self.error(
                            (*path, "depends"),
                            f"task result {result!r} for task {dependency!r} is invalid",
                            "one of " + ", ".join(_TASK_RESULTS),
                        )
                    kind = "items" if result in ("AnySucceeded", "AllFailed") else "task"
                    if found.get(dependency) != "items":
                        found[dependency] = kind
                else:
                    found[match.group(2)] = "task"
            if results_valid:
                try:
                    expr.depends_tasks(depends)
                except ExpressionError as err:
                    self.error(
                        (*path, "depends"),
                        f"depends {depends!r} does not parse: {err.message}",
                        "e.g. `a && (b.Failed || c.Skipped)`",
                    )
            where: ManifestPath = (*path, "depends")
        else:
            for dependency in as_list(task.get("dependencies")):
                if isinstance(dependency, str):
                    found[dependency] = "task"
            where = (*path, "dependencies")
        for dependency, kind in list(found.items()):
            if dependency not in tasks:
                self.error(
                    where,
                    f"dependency {dependency!r} not defined",
                    did_you_mean(dependency, tasks),
                )
                del found[dependency]
            elif kind == "items":
                other = tasks[dependency][1]
                if not (
                    as_list(other.get("withItems"))
                    or other.get("withParam")
                    or other.get("withSequence")
                ):
                    self.error(
                        where,
                        f"dependency {dependency!r} uses an items-based condition such as "
                        ".AnySucceeded or .AllFailed but does not contain any items",
                        "use .Succeeded or .Failed for a task without withItems/withParam",
                    )
        return found

    # variables and expressions

    def variables(
        self,
        value: Any,
        path: ManifestPath,
        scope: Scope,
        context: Context,
        *,
        steps: set[str] | None = None,
        tasks: set[str] | None = None,
        loop_owner: dict[str, Any] | None = None,
        ancestry: set[str] | None = None,
    ) -> None:
        """Argo's resolveAllVariables: each `{{...}}` names something in scope."""
        for string_path, written in strings(value, path):
            text = substitute(written, scope.substitutions)
            for kind, body in self.tags(string_path, text):
                if kind != "simple":
                    continue
                tag = body.strip()
                if scope.resolves(tag, context.template_validation):
                    continue
                hint = unresolved_hint(tag, scope, steps, tasks, loop_owner, ancestry)
                shown = unsubstitute(body, scope.substitutions)
                self.error(string_path, f"failed to resolve {{{{{shown}}}}}", hint)

    def tags(self, path: ManifestPath, text: str) -> list[tuple[str, str]]:
        try:
            return tags(text)
        except ExpressionError as err:
            self.error(path, err.message, "Argo reads every `{{` as the start of a tag")
            return []

    def expressions(self, path: ManifestPath, value: Any) -> None:
        """Every `{{=...}}` in `value` parses, and so do the fields that hold a bare
        expression: `fromExpression` and data transformations."""
        for string_path, text in strings(value, path):
            for kind, body in self.tags(string_path, text):
                if kind == "expression":
                    self.expression(string_path, body, tag=True)
            last = string_path[-1] if string_path else ""
            bare = last == "fromExpression" or (
                last == "expression" and "transformation" in string_path
            )
            if bare and text:
                self.expression(string_path, text)

    def expression(self, path: ManifestPath, source: str, *, tag: bool = False) -> None:
        """An expr-lang expression parses. In a bare one (retryStrategy.expression, ...)
        Argo substitutes `{{...}}` tags first; each stands for a value here."""
        compiled = source if tag else _SIMPLE_TAG.sub("placeholder", source)
        try:
            expr.compile_expression(compiled)
        except ExpressionError as err:
            shown = f"{{{{={source}}}}}" if tag else source
            self.error(
                path,
                f"expression {shown!r} does not parse: {err.message}",
                "expressions use expr-lang syntax: https://expr-lang.org",
            )

    def when(self, path: ManifestPath, text: str, scope: Scope | None = None) -> None:
        """A `when` parses (govaluate), once the tags Argo substitutes first are."""
        substitutions = scope.substitutions if scope is not None else {}
        try:
            expr.check_when(substitute(text, substitutions))
        except ExpressionError as err:
            self.error(
                path,
                unsubstitute(err.message, substitutions),
                "e.g. `{{steps.flip.outputs.result}} == heads`",
            )


def _is_base64(text: str) -> bool:
    import base64
    import binascii

    try:
        base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _text(value: Any) -> str:
    """A value as Argo's AnyString reads it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _has_location(artifact: dict[str, Any]) -> bool:
    return any(isinstance(artifact.get(k), dict) and artifact[k] for k in _ARTIFACT_LOCATIONS) or (
        isinstance(artifact.get("raw"), dict)
    )


def _merge_arguments(primary: dict[str, Any], secondary: dict[str, Any]) -> dict[str, Any]:
    """Argo's MergeParameters/MergeArtifacts: the workflow's arguments win by name."""
    merged: dict[str, Any] = {}
    for kind in ("parameters", "artifacts"):
        items = [p for _, p in named(primary.get(kind))]
        names = {as_str(p.get("name")) for p in items}
        items += [p for _, p in named(secondary.get(kind)) if as_str(p.get("name")) not in names]
        merged[kind] = items
    return merged


_GO_DURATION = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_DURATION_HINT = 'a Go duration such as "30s", "1m30s" or "2h", or whole seconds'


def _go_duration(text: str) -> bool:
    """Go's time.ParseDuration accepts `text` (a unit on every number; "0" alone)."""
    return text in ("0", "+0", "-0") or bool(_GO_DURATION.fullmatch(text))


def _valid_deadline(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value >= 0
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text) >= 0
        return is_parameter(text) or text.startswith("{{")
    return True


def _find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """A dependency cycle as [a, b, ..., a], or [] (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in graph:
        if state.get(start):
            continue
        path: list[str] = [start]
        iterators = [iter(graph.get(start, []))]
        state[start] = 1
        while iterators:
            step = next(iterators[-1], None)
            if step is None:
                state[path.pop()] = 2
                iterators.pop()
                continue
            if state.get(step) == 1:
                return [*path[path.index(step) :], step]
            if not state.get(step) and step in graph:
                state[step] = 1
                path.append(step)
                iterators.append(iter(graph.get(step, [])))
    return []


def _ancestry(name: str, dependencies: dict[str, dict[str, str]]) -> list[str]:
    seen: list[str] = []
    stack = list(dependencies.get(name, {}))
    while stack:
        task = stack.pop()
        if task in seen or task == name:
            continue
        seen.append(task)
        stack.extend(dependencies.get(task, {}))
    return seen


def _close_to_a_type(key: str) -> bool:
    """Whether an unknown template field looks like a misspelt template type."""
    import difflib  # only for an unknown field: not on the way of a valid manifest

    return bool(difflib.get_close_matches(key, TYPE_ORDER))

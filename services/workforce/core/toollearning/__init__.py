"""The tool-learning library (α-UMi and AutoAct), shared by the role services (roles/), worker-tool
(workers/tool/), the offline evaluator (evaluation/) and the training data builders (training-jobs):

  messages         typed role outputs (AlphaUmiPlannerStep, CallerAction, Conclusion, AutoActPlanStep, …)
  tooldocs         ToolBench `{Name, function, input}` ⇄ JSON schema
  alpha_umi_format the exact α-UMi (GLPFT) training prompts;  chat_format  our chat-template family
  autoact_format   AutoAct plan / tool / reflect prompts;      parsers      model output → typed message
  generator        one role's Generate: render → call → parse → retry (RoleGenerator, RoleRequest, RoleResult)
  backend          how a role reaches the model (chat, or raw completions for the α-UMi family)
  convert          protobuf ⇄ RoleRequest / RoleResult;        role_clients GrpcRole, LocalRole, make_roles
  alpha_umi_loop   the α-UMi agent loop (planner → caller → tool → summarizer, DFSDT backtracking)
  autoact_loop     AutoAct group planning;                     hotpotqa_tools  its Retrieve / Lookup / Search
  settings         RoleSettings (WF_ROLE_*), ToolSettings (WF_TOOL_*)

Names: "planner" alone is the OWL planner service (planner/); here the α-UMi role is the *role-planner*
(`AlphaUmiPlannerStep`) and AutoAct's is the *plan agent* (`AutoActPlanStep`). The role names on the wire
("planner", "plan") and in WF_* settings are unchanged.
"""

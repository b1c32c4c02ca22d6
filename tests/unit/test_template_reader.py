import textwrap

from infra.template import emulator_template, functions, load_template, referenced_names

TEMPLATE = textwrap.dedent(
    """
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Timeout: 20
        Environment:
          Variables:
            STAGE: !Ref Stage
    Parameters:
      Stage: {Type: String, Default: dev}
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Handler: pkg.mod.handler
          MemorySize: 256
          Environment:
            Variables:
              TABLE: !Ref Table
              BUS: !GetAtt Bus.Name
          Events:
            Q:
              Type: SQS
              Properties:
                Queue: !GetAtt Queue.Arn
                BatchSize: 25
                FunctionResponseTypes: [ReportBatchItemFailures]
            Tick:
              Type: Schedule
              Properties: {Schedule: rate(1 hour), Input: '{"job": "x"}'}
            Get:
              Type: HttpApi
              Properties: {Path: "/things/{id}", Method: get}
      FnLogs:
        Type: AWS::Logs::LogGroup
        Properties: {LogGroupName: !Sub "/aws/lambda/${Fn}"}
      Table: {Type: AWS::DynamoDB::Table, Properties: {}}
      Queue: {Type: AWS::SQS::Queue}
      Bus: {Type: AWS::Events::EventBus, Properties: {Name: !Sub "bus-${Stage}"}}
    """
)


def loaded(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return load_template(path)


def test_short_form_intrinsics_become_long_form(tmp_path):
    template = loaded(tmp_path)
    assert template["Resources"]["Bus"]["Properties"]["Name"] == {"Fn::Sub": "bus-${Stage}"}
    assert template["Resources"]["Fn"]["Properties"]["Environment"]["Variables"]["BUS"] == {
        "Fn::GetAtt": ["Bus", "Name"]
    }


def test_functions_merge_globals_and_read_every_trigger(tmp_path):
    (spec,) = functions(loaded(tmp_path))
    assert (spec.handler, spec.timeout, spec.memory) == ("pkg.mod.handler", 20, 256)
    assert set(spec.environment) == {"STAGE", "TABLE", "BUS"}
    (sqs,) = spec.sqs_triggers
    assert (sqs.queue, sqs.batch_size, sqs.reports_item_failures) == ("Queue", 25, True)
    (tick,) = spec.schedules
    assert (tick.expression, tick.input) == ("rate(1 hour)", {"job": "x"})
    assert [(route.path, route.method) for route in spec.api_routes] == [("/things/{id}", "GET")]


def test_referenced_names_follow_sub_and_getatt():
    assert referenced_names({"Fn::Sub": "/x/${Fn}/${Bus.Name}/${AWS::Region}"}) == {"Fn", "Bus"}
    assert referenced_names({"Fn::Sub": ["${A}-${B}", {"A": {"Ref": "C"}}]}) == {"B", "C"}


def test_the_emulator_template_drops_functions_and_what_depends_on_them(tmp_path):
    result = emulator_template(loaded(tmp_path), {"Out": {"Ref": "Table"}})
    assert set(result["Resources"]) == {"Table", "Queue", "Bus"}
    assert "Transform" not in result and "Globals" not in result
    assert result["Outputs"] == {"Out": {"Value": {"Ref": "Table"}}}


def test_the_real_template_loads():
    assert {spec.logical_id for spec in functions(load_template())} >= {"ApiFunction", "TouchpointsFunction"}

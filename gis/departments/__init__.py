"""Departments (职能部门): named bodies serving a unit, with member accounts; cases are dispatched
to them (派遣, 吹哨报到)."""

"""The HTTP contract: openapi.yaml, generated from the models, and request validation through them.

The models are the one source: pydantic validates requests with them (every array and mapping has a
size limit, so a body under the size cap is refused with bounded work), and their JSON Schemas are the
component schemas of openapi.yaml (``document``). The paths, responses and descriptions are written by
hand in ``paths.yaml`` next to this file.
"""

from framework_advisor.contract.validation import ContractViolation, read_report, validate

__all__ = ["ContractViolation", "read_report", "validate"]

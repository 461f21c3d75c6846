"""DynamoDB's consumed capacity, as its developer guide documents it, for moto.

moto answers a fixed figure whatever the item (a put is always 1.0, a get always 0.5, a
transaction nothing), so a client that reports what the service says would agree with any rule.
This module makes moto answer what DynamoDB bills, from the guide's rules, written here apart
from the Rust implementation so that the contract test compares two readings of the same page:

- item size: attribute names in UTF-8 bytes plus values: strings in UTF-8 bytes, numbers one byte
  per two significant digits plus one, booleans and null one byte, lists and maps three bytes plus
  their elements (a map element counts its name too);
- reads round the bytes read (one item, or a query's page) up to 4 KB: one unit strongly
  consistent, half eventually; a miss still costs the minimum;
- writes round the larger of the item before and after up to 1 KB, at least one unit; a global
  secondary index adds a write per entry put or removed (two when the index key changed, one when
  only projected attributes changed); transactions cost twice each item, a condition check as a
  transactional write of the item it checked.

Errors carry no consumed capacity in DynamoDB's answers, so none is added to them here.
"""

import math


from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.responses import DynamoHandler


def _value_size(v):
    if isinstance(v, DynamoType):
        t, val = v.type, v.value
    else:
        ((t, val),) = v.items()
    if t == "S":
        return len(val.encode())
    if t == "N":
        mantissa = str(val).lower().split("e")[0]
        digits = "".join(c for c in mantissa if c.isdigit()).strip("0")
        return math.ceil(max(len(digits), 1) / 2) + 1
    if t in ("BOOL", "NULL"):
        return 1
    if t == "L":
        return 3 + sum(_value_size(x) for x in val)
    if t == "M":
        return 3 + sum(len(k.encode()) + _value_size(x) for k, x in val.items())
    if t == "B":
        return len(val) if isinstance(val, bytes) else math.ceil(len(val) * 3 / 4)
    return sum(_value_size({t[0]: x}) for x in val)  # sets


def _size(attrs):
    if attrs is None:
        return 0
    if hasattr(attrs, "attrs"):
        attrs = attrs.attrs
    return sum(len(k.encode()) + _value_size(v) for k, v in attrs.items())


def _attrs(item):
    if item is None:
        return None
    return item.attrs if hasattr(item, "attrs") else item


def _write(before, after):
    size = max(_size(before), _size(after))
    return max(math.ceil(size / 1024), 1)


def _entry(item):
    return max(math.ceil(_size(item) / 1024), 1)


def _index_key(table, item):
    """Per global index, the item's key in it, or None when the item is not in it."""
    item = _attrs(item)
    keys = []
    for index in table.global_indexes:
        names = [k["AttributeName"] for k in index.schema]
        if item is not None and all(n in item for n in names):
            keys.append(tuple(str(_as_json(item[n])) for n in names))
        else:
            keys.append(None)
    return keys


def _as_json(v):
    return v.to_json() if isinstance(v, DynamoType) else v


def _index_writes(table, before, after):
    total = 0
    for kb, ka in zip(_index_key(table, before), _index_key(table, after)):
        if kb is None and ka is None:
            continue
        if kb is None:
            total += _entry(after)
        elif ka is None:
            total += _entry(before)
        elif kb != ka:
            total += _entry(before) + _entry(after)
        elif _plain(before) != _plain(after):
            total += max(_entry(before), _entry(after))
    return total


def _plain(item):
    item = _attrs(item)
    return {k: str(_as_json(v)) for k, v in item.items()} if item is not None else None


def _read(size, consistent):
    steps = max(math.ceil(size / 4096), 1)
    return float(steps) if consistent else steps / 2


def _table(handler, name):
    return handler.dynamodb_backend.get_table(name)


def _key_of(table, item):
    key = {table.hash_key_attr: _as_json(item[table.hash_key_attr])}
    if table.range_key_attr:
        key[table.range_key_attr] = _as_json(item[table.range_key_attr])
    return key


def _current(handler, name, key):
    try:
        return handler.dynamodb_backend.get_item(name, key)
    except Exception:  # noqa: BLE001 - an absent item or table reads as nothing
        return None


def _snapshot(item):
    """A copy of an item's attributes that later writes do not change."""
    return None if item is None else {k: _as_json(v) for k, v in _attrs(item).items()}


def _answer(result, body, name, units):
    if body.get("ReturnConsumedCapacity", "NONE") == "NONE":
        return result
    result.result["ConsumedCapacity"] = {"TableName": name, "CapacityUnits": float(units)}
    return result


def _answer_list(result, body, name, units):
    if body.get("ReturnConsumedCapacity", "NONE") == "NONE":
        return result
    result.result["ConsumedCapacity"] = [{"TableName": name, "CapacityUnits": float(units)}]
    return result


def install():
    get_item, put_item = DynamoHandler.get_item, DynamoHandler.put_item
    update_item, delete_item = DynamoHandler.update_item, DynamoHandler.delete_item
    query = DynamoHandler.query
    batch_write, transact = DynamoHandler.batch_write_item, DynamoHandler.transact_write_items

    def get_item_(self):
        res = get_item(self)
        name = self.body["TableName"]
        item = _current(self, name, self.body["Key"])
        return _answer(res, self.body, name, _read(_size(item), self.body.get("ConsistentRead", False)))

    def put_item_(self):
        name = self.body["TableName"]
        table = _table(self, name)
        item = self.body["Item"]
        before = _snapshot(_current(self, name, _key_of(table, item)))
        res = put_item(self)
        units = _write(before, item) + _index_writes(table, before, item)
        return _answer(res, self.body, name, units)

    def update_item_(self):
        name = self.body["TableName"]
        table = _table(self, name)
        before = _snapshot(_current(self, name, self.body["Key"]))
        res = update_item(self)
        after = _snapshot(_current(self, name, self.body["Key"]))
        units = _write(before, after) + _index_writes(table, before, after)
        return _answer(res, self.body, name, units)

    def delete_item_(self):
        name = self.body["TableName"]
        table = _table(self, name)
        before = _snapshot(_current(self, name, self.body["Key"]))
        res = delete_item(self)
        units = _write(before, None) + _index_writes(table, before, None)
        return _answer(res, self.body, name, units)

    def query_(self):
        res = query(self)
        name = self.body["TableName"]
        size = sum(_size(i) for i in res.result.get("Items", []))
        return _answer(res, self.body, name, _read(size, self.body.get("ConsistentRead", False)))

    def batch_write_(self):
        plans = []
        for name, requests in self.body["RequestItems"].items():
            table = _table(self, name)
            for r in requests:
                if "PutRequest" in r:
                    item = r["PutRequest"]["Item"]
                    plans.append((name, table, _snapshot(_current(self, name, _key_of(table, item))), item))
                else:
                    key = r["DeleteRequest"]["Key"]
                    plans.append((name, table, _snapshot(_current(self, name, key)), None))
        res = batch_write(self)
        if self.body.get("ReturnConsumedCapacity", "NONE") != "NONE":
            per_table = {}
            for name, table, before, after in plans:
                per_table[name] = per_table.get(name, 0) + _write(before, after) + _index_writes(table, before, after)
            res.result["ConsumedCapacity"] = [
                {"TableName": n, "CapacityUnits": float(u)} for n, u in per_table.items()
            ]
        return res

    def transact_(self):
        plans = []
        for t in self.body["TransactItems"]:
            ((kind, op),) = t.items()
            name = op["TableName"]
            table = _table(self, name)
            key = _key_of(table, op["Item"]) if kind == "Put" else op["Key"]
            plans.append((kind, op, name, table, key, _snapshot(_current(self, name, key))))
        res = transact(self)
        if self.body.get("ReturnConsumedCapacity", "NONE") != "NONE":
            per_table = {}
            for kind, op, name, table, key, before in plans:
                if kind == "ConditionCheck":
                    units = 2 * _write(before, None)
                else:
                    after = None if kind == "Delete" else _snapshot(_current(self, name, key))
                    units = 2 * (_write(before, after) + _index_writes(table, before, after))
                per_table[name] = per_table.get(name, 0) + units
            res.result["ConsumedCapacity"] = [
                {"TableName": n, "CapacityUnits": float(u)} for n, u in per_table.items()
            ]
        return res

    DynamoHandler.get_item = get_item_
    DynamoHandler.put_item = put_item_
    DynamoHandler.update_item = update_item_
    DynamoHandler.delete_item = delete_item_
    DynamoHandler.query = query_
    DynamoHandler.batch_write_item = batch_write_
    DynamoHandler.transact_write_items = transact_


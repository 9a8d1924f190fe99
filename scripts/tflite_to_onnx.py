"""Convert MediaPipe's TFLite models into ONNX graphs (a build tool; arfx does not import it).

The TFLite flatbuffer is read with the `tflite` package and the ONNX graph is written with
`onnx.helper`. Activations run in NCHW inside the graph while the graph's inputs and outputs
keep TFLite's NHWC shapes and tensor names. float16 weights stay float16 in the file behind a
Cast (ONNX Runtime folds the Cast when it loads the model). PRelu is rewritten as
x + (1 - a) * Relu(-x) with the multiplies as 1x1 depthwise Convs, because ONNX Runtime's
PRelu kernel is slow on CPU. MediaPipe's custom ops (the attention landmark model's three, the
segmentation models' transposed convolution) are expressed in standard ONNX (see
`_Converter._custom_*`). Same-shaped ops on parallel branches (the attention model's lips, eye
and iris heads) run as one grouped op on the branches' channel-concatenated activations (see
`_Converter._merge_lanes`): far fewer, larger kernels. `convert(..., channel_block=16)` pads
activations with zero channels to whole blocks of ONNX Runtime's blocked layout (`pad_channels`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
import tflite
from flatbuffers import flexbuffers
from onnx import TensorProto, helper, numpy_helper
from tflite.BuiltinOperator import BuiltinOperator

OPSET = 17
IR_VERSION = 8  # the lowest IR version that carries opset 17: loads in older ONNX Runtimes
PRODUCER_NAME = "arfx-tflite-to-onnx"
PRODUCER_VERSION = "1"

_OP_NAMES = {code: name for name, code in vars(BuiltinOperator).items() if not name.startswith("_")}
_TFLITE_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)
_NHWC_AXIS_IN_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}


class ConversionError(Exception):
    """The TFLite model uses something this converter does not handle."""


def _pool_attributes(options, height: int, width: int) -> dict:
    """ONNX MaxPool attributes for TFLite Pool2DOptions on a height x width input."""
    kh, kw, sh, sw = options.FilterHeight(), options.FilterWidth(), options.StrideH(), options.StrideW()
    if options.Padding() == 0:  # SAME
        top, bottom = _same_pads(height, kh, sh)
        left, right = _same_pads(width, kw, sw)
    else:
        top = bottom = left = right = 0
    return {"kernel_shape": [kh, kw], "strides": [sh, sw], "pads": [top, left, bottom, right]}


@dataclass(frozen=True)
class _Value:
    name: str
    nchw: bool  # True: a 4D activation held transposed relative to its TFLite NHWC shape


def _options(op, options_class):
    table = op.BuiltinOptions()
    options = options_class()
    options.Init(table.Bytes, table.Pos)
    return options


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite SAME padding: the extra pixel goes after, as in TensorFlow."""
    out = math.ceil(size / stride)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class _Bundle:
    """Parallel branches held as one NCHW tensor: lane k is channels [k * channels, (k + 1) * channels)."""
    name: str
    lanes: int
    channels: int


# Ops that act on each channel group alone, so same-shaped copies of them on different branches
# can run as one (grouped) op on the branches' channel-concatenated activations.
_LANE_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "PRELU", "ADD", "MAX_POOL_2D", "PAD", "RELU")


class _Converter:
    def __init__(self, data: bytes):
        self.model = tflite.Model.GetRootAsModel(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise ConversionError("only single-subgraph models are supported")
        self.graph = self.model.Subgraphs(0)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.values: dict[int, _Value] = {}
        self.consts: dict[int, np.ndarray] = {}
        self.used_names: set[str] = set()
        self.counter = 0

    # ----- naming and small builders -------------------------------------------------

    def _unique(self, base: str) -> str:
        name = base
        while name in self.used_names:
            self.counter += 1
            name = f"{base}__{self.counter}"
        self.used_names.add(name)
        return name

    def node1(self, op_type: str, inputs: list[str], base: str, **attrs) -> str:
        """Add a single-output node; returns its (unique) output name."""
        output = self._unique(base)
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=self._unique(f"node/{base}"),
                                           **attrs))
        return output

    def const(self, array: np.ndarray, base: str) -> str:
        """A constant input; float16 arrays are stored as float16 and cast to float32."""
        array = np.ascontiguousarray(array)
        if array.dtype == np.float16:
            stored = self._unique(f"{base}__f16")
            self.initializers.append(numpy_helper.from_array(array, stored))
            return self.node1("Cast", [stored], base, to=TensorProto.FLOAT)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        name = self._unique(base)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    # ----- tensors -------------------------------------------------------------------

    def tensor(self, index: int):
        return self.graph.Tensors(index)

    def tname(self, index: int) -> str:
        return self.tensor(index).Name().decode()

    def shape(self, index: int) -> list[int]:
        tensor = self.tensor(index)
        return [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []

    def _buffer_array(self, index: int) -> np.ndarray | None:
        tensor = self.tensor(index)
        buffer = self.model.Buffers(tensor.Buffer())
        if buffer is None or buffer.DataLength() == 0:
            return None
        dtype = _TFLITE_DTYPES.get(tensor.Type())
        if dtype is None:
            raise ConversionError(f"tensor {self.tname(index)}: unsupported type {tensor.Type()}")
        raw = np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype=dtype)
        if tensor.Sparsity() is not None:
            return raw  # densified by the DENSIFY op that consumes it
        return raw.reshape(self.shape(index))

    def plain(self, index: int) -> str:
        """The value in TFLite's own layout."""
        if index in self.consts:
            return self.const(self.consts[index], self.tname(index))
        value = self.values[index]
        if not value.nchw:
            return value.name
        if index not in self._plain_cache:
            self._plain_cache[index] = self.node1("Transpose", [value.name], self.tname(index) + "__nhwc",
                                                  perm=list(_NCHW_TO_NHWC))
        return self._plain_cache[index]

    def nchw(self, index: int) -> str:
        """A 4D activation in NCHW."""
        value = self.values[index]
        if value.nchw:
            return value.name
        if len(self.shape(index)) != 4:
            raise ConversionError(f"{self.tname(index)} is not 4D")
        if index not in self._nchw_cache:
            self._nchw_cache[index] = self.node1("Transpose", [value.name], self.tname(index) + "__nchw",
                                                 perm=list(_NHWC_TO_NCHW))
        return self._nchw_cache[index]

    def set_out(self, index: int, name: str, nchw: bool) -> None:
        self.values[index] = _Value(name, nchw)

    def out_base(self, op) -> str:
        return self.tname(int(op.Outputs(0)))

    def activation(self, name: str, fused: int, base: str) -> str:
        if fused == 0:
            return name
        if fused == 1:
            return self.node1("Relu", [name], base)
        if fused == 3:
            return self.node1("Clip", [name, self.const(np.array(0, np.float32), base + "/min"),
                                       self.const(np.array(6, np.float32), base + "/max")], base)
        raise ConversionError(f"fused activation {fused} not supported")

    # ----- driver --------------------------------------------------------------------

    def convert(self, graph_name: str) -> onnx.ModelProto:
        self._plain_cache: dict[int, str] = {}
        self._nchw_cache: dict[int, str] = {}
        self._stacked_matrices: dict[int, tuple[str, int, int]] = {}  # matrix -> (stack, lane, lanes)
        self._rows_cache: dict[int, str] = {}  # matrix -> its first two rows, transposed
        self._lane_of: dict[int, tuple[_Bundle, int]] = {}  # tensor -> (bundle, lane) holding it
        self._merged_ops: set[int] = set()  # ops computed as part of an earlier op's merged group
        self._gathers: dict[tuple[str, tuple[int, ...]], str] = {}
        g = self.graph
        inputs = []
        for i in range(g.InputsLength()):
            index = int(g.Inputs(i))
            name = self.tname(index)
            self.used_names.add(name)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, self.shape(index)))
            self.values[index] = _Value(name, False)
        output_indices = [int(g.Outputs(i)) for i in range(g.OutputsLength())]
        # Graph outputs must carry their TFLite names, so intermediates never take them.
        self.used_names.update(self.tname(i) for i in output_indices)
        for i in range(g.TensorsLength()):
            array = self._buffer_array(i)
            if array is not None:
                self.consts[i] = array
        # Constants first, so that ops merged across branches see the weights of later ops.
        constant_ops = set()
        for op_index in range(g.OperatorsLength()):
            if self.op_name(g.Operators(op_index)) in ("DEQUANTIZE", "DENSIFY"):
                self._handler(op_index)(g.Operators(op_index))
                constant_ops.add(op_index)
        for op_index in range(g.OperatorsLength()):
            if op_index in constant_ops or op_index in self._merged_ops:
                continue
            op = g.Operators(op_index)
            handler = self._handler(op_index)
            self._op_index = op_index
            if self._merge_lanes(op_index):
                continue
            for index in self.ins(op):
                self._unbundle(index)
            handler(op)
        outputs = []
        for index in output_indices:
            self._unbundle(index)
            name = self.tname(index)
            self._rename(self.plain(index), name)
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, self.shape(index)))
        graph = helper.make_graph(self.nodes, graph_name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, producer_name=PRODUCER_NAME, producer_version=PRODUCER_VERSION,
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model

    def op_name(self, op) -> str:
        code = self.model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = _OP_NAMES.get(builtin, str(builtin))
        return "CUSTOM:" + code.CustomCode().decode() if name == "CUSTOM" else name

    def _handler(self, op_index: int):
        name = self.op_name(self.graph.Operators(op_index))
        if name.startswith("CUSTOM:"):
            handler = getattr(self, "_custom_" + name[len("CUSTOM:"):], None)
        else:
            handler = getattr(self, "_op_" + name, None)
        if handler is None:
            raise ConversionError(f"operator {name} (#{op_index}) is not supported")
        return handler

    # ----- parallel branches as channel lanes ------------------------------------------

    def _bundle_lanes(self, name: str, channels: int, outputs: list[int]) -> None:
        """Record that `outputs` are the lanes, in order, of the NCHW tensor `name`."""
        bundle = _Bundle(name, len(outputs), channels)
        for lane, index in enumerate(outputs):
            self._lane_of[index] = (bundle, lane)

    def _unbundle(self, index: int) -> None:
        """Give a lane that an unmerged op reads a tensor of its own (a channel Slice)."""
        if index in self.values or index not in self._lane_of:
            return
        bundle, lane = self._lane_of[index]
        base = self.tname(index)
        y = self.node1("Slice", [bundle.name, self.const(np.array([lane * bundle.channels], np.int64), base + "/c0"),
                                 self.const(np.array([(lane + 1) * bundle.channels], np.int64), base + "/c1"),
                                 self.const(np.array([1], np.int64), base + "/cax")], base)
        self.set_out(index, y, True)

    def _gather_lanes(self, bundle: _Bundle, lanes: list[int], base: str) -> str:
        """An NCHW tensor holding the bundle's lanes in the order given (lanes may repeat)."""
        if lanes == list(range(bundle.lanes)):
            return bundle.name
        key = (bundle.name, tuple(lanes))
        if key not in self._gathers:
            runs: list[list[int]] = []
            for lane in lanes:
                if runs and lane == runs[-1][-1] + 1:
                    runs[-1].append(lane)
                else:
                    runs.append([lane])
            pieces = []
            for k, run in enumerate(runs):
                if len(run) == bundle.lanes:
                    pieces.append(bundle.name)
                    continue
                pieces.append(self.node1("Slice", [
                    bundle.name, self.const(np.array([run[0] * bundle.channels], np.int64), f"{base}/g{k}b"),
                    self.const(np.array([(run[-1] + 1) * bundle.channels], np.int64), f"{base}/g{k}e"),
                    self.const(np.array([1], np.int64), f"{base}/g{k}ax")], f"{base}/gather{k}"))
            self._gathers[key] = (pieces[0] if len(pieces) == 1 else
                                  self.node1("Concat", pieces, base + "/gather", axis=1))
        return self._gathers[key]

    def _lane_signature(self, op) -> tuple | None:
        """What must match for ops to merge: type, options, shapes; None if the op cannot merge."""
        name = self.op_name(op)
        if name not in _LANE_OPS:
            return None
        outs = self.outs(op)
        if len(outs) != 1 or len(self.shape(outs[0])) != 4:
            return None
        parts: list = [name, tuple(self.shape(outs[0]))]
        for position, index in enumerate(self.ins(op)):
            if index < 0:
                parts.append(None)
            elif index in self.consts:
                array = self.consts[index]
                if name in ("ADD", "RELU", "MAX_POOL_2D"):
                    return None  # only weights may be constant
                if name == "PAD":
                    if array.shape != (4, 2) or array[:3].any():
                        return None  # only channel padding merges (as a grouped Conv)
                    parts.append(array.astype(np.int64).tobytes())
                else:
                    parts.append(("const", position, array.shape, array.dtype.str))
            elif index in self._lane_of:
                parts.append(("lane", position, tuple(self.shape(index))))
            else:
                return None
        if name == "CONV_2D":
            o = _options(op, tflite.Conv2DOptions)
            parts.append((o.Padding(), o.StrideH(), o.StrideW(), o.DilationHFactor(), o.DilationWFactor(),
                          o.FusedActivationFunction()))
        elif name == "DEPTHWISE_CONV_2D":
            o = _options(op, tflite.DepthwiseConv2DOptions)
            parts.append((o.Padding(), o.StrideH(), o.StrideW(), o.DilationHFactor(), o.DilationWFactor(),
                          o.FusedActivationFunction(), o.DepthMultiplier()))
        elif name == "MAX_POOL_2D":
            o = _options(op, tflite.Pool2DOptions)
            parts.append((o.Padding(), o.StrideH(), o.StrideW(), o.FilterHeight(), o.FilterWidth(),
                          o.FusedActivationFunction()))
        elif name == "ADD":
            parts.append(_options(op, tflite.AddOptions).FusedActivationFunction() if op.BuiltinOptions() else 0)
        return tuple(parts)

    def _merge_lanes(self, op_index: int) -> bool:
        """Compute this op and its same-shaped copies on other lanes as one op; False if none.

        Members are the later ops with the same signature whose lane inputs come from the same
        bundles (position by position). The merged op reads, per input position, the members'
        lanes in member order, so it is exact whatever lanes the members read. Members are
        ordered by lane, first occurrences first, so that a branch that forks (one lane read
        by two ops) costs a single extra Slice+Concat.
        """
        op = self.graph.Operators(op_index)
        signature = self._lane_signature(op)
        if signature is None:
            return False
        positions = [p for p, i in enumerate(self.ins(op)) if i >= 0 and i in self._lane_of]
        if not positions:
            return False
        bundles = [self._lane_of[self.ins(op)[p]][0] for p in positions]
        members = [op_index]
        for later in range(op_index + 1, self.graph.OperatorsLength()):
            if later in self._merged_ops:
                continue
            other = self.graph.Operators(later)
            if self.op_name(other) != signature[0] or self._lane_signature(other) != signature:
                continue
            if [self._lane_of[self.ins(other)[p]][0] for p in positions] == bundles:
                members.append(later)
        if len(members) < 2:
            return False
        first_lane = {m: self._lane_of[self.ins(self.graph.Operators(m))[positions[0]]][1] for m in members}
        seen: dict[int, int] = {}
        rank = {}
        for m in members:
            rank[m] = seen.get(first_lane[m], 0)
            seen[first_lane[m]] = rank[m] + 1
        members.sort(key=lambda m: (rank[m], first_lane[m], m))
        ops = [self.graph.Operators(m) for m in members]
        base = self.out_base(ops[0]) + f"__x{len(ops)}"
        lane_inputs = []
        for p, bundle in zip(positions, bundles):
            lanes = [self._lane_of[self.ins(o)[p]][1] for o in ops]
            lane_inputs.append(self._gather_lanes(bundle, lanes, f"{base}/in{p}"))
        y = self._merged_op(signature[0], ops, lane_inputs, base)
        self._bundle_lanes(y, self.shape(self.outs(ops[0])[0])[3], [self.outs(o)[0] for o in ops])
        self._merged_ops.update(members)
        return True

    def _merged_op(self, name: str, ops: list, xs: list[str], base: str) -> str:
        """One op computing `ops` (same signature) on lane-concatenated NCHW inputs `xs`."""
        lanes = len(ops)
        first_ins = self.ins(ops[0])
        in_shape = self.shape(first_ins[0])

        def stacked(position: int, transpose: tuple[int, ...] | None = None) -> np.ndarray:
            arrays = [self.consts[self.ins(o)[position]] for o in ops]
            if transpose is not None:
                arrays = [a.transpose(transpose) for a in arrays]
            return np.concatenate(arrays, axis=0)

        def bias() -> tuple[np.ndarray | None, str]:
            if len(first_ins) > 2 and first_ins[2] >= 0:
                return stacked(2), base + "/bias"
            return None, ""

        if name == "CONV_2D":
            return self._conv_node(xs[0], in_shape, stacked(1, (0, 3, 1, 2)), base + "/weight", *bias(), lanes,
                                   _options(ops[0], tflite.Conv2DOptions), base)
        if name == "DEPTHWISE_CONV_2D":
            return self._conv_node(xs[0], in_shape, stacked(1, (3, 0, 1, 2)), base + "/weight", *bias(),
                                   lanes * in_shape[3], _options(ops[0], tflite.DepthwiseConv2DOptions), base)
        if name == "PRELU":
            alpha = np.concatenate([self.consts[self.ins(o)[1]].reshape(-1) for o in ops])
            if alpha.size != lanes * in_shape[3]:
                raise ConversionError("PRELU with a spatially varying alpha")
            return self._prelu_nodes(xs[0], alpha, base + "/alpha", base)
        if name == "ADD":
            options = _options(ops[0], tflite.AddOptions) if ops[0].BuiltinOptions() else None
            fused = options.FusedActivationFunction() if options else 0
            y = self.node1("Add", xs, base if fused == 0 else base + "/raw")
            return self.activation(y, fused, base)
        if name == "MAX_POOL_2D":
            options = _options(ops[0], tflite.Pool2DOptions)
            _, height, width, _ = in_shape
            fused = options.FusedActivationFunction()
            y = self.node1("MaxPool", xs, base if fused == 0 else base + "/pool",
                           **_pool_attributes(options, height, width))
            return self.activation(y, fused, base)
        if name == "RELU":
            return self.node1("Relu", xs, base)
        if name == "PAD":
            pads = self.consts[first_ins[1]].astype(np.int64)
            channels = in_shape[3]
            weight = np.zeros((channels + int(pads[3].sum()), channels, 1, 1), np.float32)
            weight[int(pads[3, 0]) + np.arange(channels), np.arange(channels)] = 1
            return self.node1("Conv", [xs[0], self.const(np.tile(weight, (lanes, 1, 1, 1)).astype(np.float16),
                                                         base + "/embed")],
                              base, kernel_shape=[1, 1], group=lanes)
        raise ConversionError(f"cannot merge {name}")

    def _rename(self, old: str, new: str) -> None:
        """Give the tensor that holds a graph output its TFLite name."""
        for node in self.nodes:
            for names in (node.input, node.output):
                for i, name in enumerate(names):
                    if name == old:
                        names[i] = new

    def ins(self, op) -> list[int]:
        return [int(i) for i in op.InputsAsNumpy()]

    def outs(self, op) -> list[int]:
        return [int(i) for i in op.OutputsAsNumpy()]

    # ----- constant-producing ops ----------------------------------------------------

    def _op_DEQUANTIZE(self, op) -> None:
        (src,), (dst,) = self.ins(op), self.outs(op)
        if src not in self.consts or self.consts[src].dtype != np.float16:
            raise ConversionError("DEQUANTIZE of anything but a float16 constant")
        self.consts[dst] = self.consts[src]  # stays float16; const() adds the Cast

    def _op_DENSIFY(self, op) -> None:
        (src,), (dst,) = self.ins(op), self.outs(op)
        self.consts[dst] = _densify(self.consts[src], self.tensor(src).Sparsity(), self.shape(src))

    # ----- NN ops --------------------------------------------------------------------

    def _conv_common(self, op, weight: np.ndarray, group: int, options) -> None:
        inputs, (out,) = self.ins(op), self.outs(op)
        bias = self.consts[inputs[2]] if len(inputs) > 2 and inputs[2] >= 0 else None
        bias_name = self.tname(inputs[2]) if bias is not None else ""
        y = self._conv_node(self.nchw(inputs[0]), self.shape(inputs[0]), weight, self.tname(inputs[1]),
                            bias, bias_name, group, options, self.out_base(op))
        self.set_out(out, y, True)

    def _conv_node(self, x: str, in_shape: list[int], weight: np.ndarray, weight_name: str,
                   bias: np.ndarray | None, bias_name: str, group: int, options, base: str) -> str:
        """Conv (OIHW weight) with TFLite padding and fused activation on an NCHW input."""
        _, height, width, _ = in_shape
        kh, kw = weight.shape[2], weight.shape[3]
        sh, sw = options.StrideH(), options.StrideW()
        dh, dw = options.DilationHFactor(), options.DilationWFactor()
        if options.Padding() == 0:
            top, bottom = _same_pads(height, kh, sh, dh)
            left, right = _same_pads(width, kw, sw, dw)
        else:
            top = bottom = left = right = 0
        args = [x, self.const(weight, weight_name)]
        if bias is not None:
            args.append(self.const(bias, bias_name))
        fused = options.FusedActivationFunction()
        y = self.node1("Conv", args, base if fused == 0 else base + "/conv", group=group,
                       kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw],
                       pads=[top, left, bottom, right])
        return self.activation(y, fused, base)

    def _op_CONV_2D(self, op) -> None:
        weight = self.consts[self.ins(op)[1]]  # OHWI
        self._conv_common(op, weight.transpose(0, 3, 1, 2), 1, _options(op, tflite.Conv2DOptions))

    def _op_DEPTHWISE_CONV_2D(self, op) -> None:
        options = _options(op, tflite.DepthwiseConv2DOptions)
        weight = self.consts[self.ins(op)[1]]  # 1HW(C*M)
        in_channels = self.shape(self.ins(op)[0])[3]
        self._conv_common(op, weight.transpose(3, 0, 1, 2), in_channels, options)

    def _op_MAX_POOL_2D(self, op) -> None:
        options = _options(op, tflite.Pool2DOptions)
        (x,), (out,) = self.ins(op), self.outs(op)
        _, height, width, _ = self.shape(x)
        base = self.out_base(op)
        fused = options.FusedActivationFunction()
        y = self.node1("MaxPool", [self.nchw(x)], base if fused == 0 else base + "/pool",
                       **_pool_attributes(options, height, width))
        self.set_out(out, self.activation(y, fused, base), True)

    def _op_RELU(self, op) -> None:
        (x,), (out,) = self.ins(op), self.outs(op)
        nchw = self.values[x].nchw
        self.set_out(out, self.node1("Relu", [self.nchw(x) if nchw else self.plain(x)], self.out_base(op)), nchw)

    def _op_PRELU(self, op) -> None:
        (x, alpha_index), (out,) = self.ins(op), self.outs(op)
        alpha = self.consts[alpha_index]
        if alpha.size != self.shape(x)[3]:
            raise ConversionError("PRELU with a spatially varying alpha")
        y = self._prelu_nodes(self.nchw(x), alpha.reshape(-1), self.tname(alpha_index), self.out_base(op))
        self.set_out(out, y, True)

    def _prelu_nodes(self, xn: str, alpha: np.ndarray, alpha_name: str, base: str) -> str:
        """PReLU with a per-channel alpha on an NCHW input."""
        channels = alpha.size
        # x + (1 - a) * Relu(-x): two 1x1 depthwise Convs rather than Neg/Mul/PRelu. ONNX Runtime
        # fuses the Relu into the first and the Add (as its Sum input) into the second, so each
        # PReLU costs two kernels that stay in its blocked NCHWc layout (no reorders).
        flip = self.const(np.full((channels, 1, 1, 1), -1, np.float16), base + "/flip")
        negated = self.node1("Conv", [xn, flip], base + "/neg", group=channels, kernel_shape=[1, 1])
        negative = self.node1("Relu", [negated], base + "/negpart")
        keep = 1 - alpha.astype(np.float32).reshape(channels, 1, 1, 1)
        if np.array_equal(keep.astype(np.float16).astype(np.float32), keep):
            keep = keep.astype(np.float16)  # exact in float16: store it as compactly as the alpha
        scale = self.const(keep, alpha_name)
        scaled = self.node1("Conv", [negative, scale], base + "/scaled", group=channels, kernel_shape=[1, 1])
        return self.node1("Add", [xn, scaled], base)

    def _op_PAD(self, op) -> None:
        (x, pads_index), (out,) = self.ins(op), self.outs(op)
        pads = self.consts[pads_index].astype(np.int64)
        if len(self.shape(x)) == 4 and not pads[:3].any():
            # Channel padding as a 1x1 Conv that embeds the input channels: unlike Pad it keeps
            # ONNX Runtime in its blocked (NCHWc) layout, which is faster than the reorders.
            channels = self.shape(x)[3]
            weight = np.zeros((channels + int(pads[3].sum()), channels, 1, 1), np.float32)
            weight[int(pads[3, 0]) + np.arange(channels), np.arange(channels)] = 1
            y = self.node1("Conv", [self.nchw(x), self.const(weight.astype(np.float16), self.tname(pads_index))],
                           self.out_base(op), kernel_shape=[1, 1])
            self.set_out(out, y, True)
            return
        if len(self.shape(x)) == 4:
            pads = pads[list(_NHWC_TO_NCHW)]
            data, nchw = self.nchw(x), True
        else:
            data, nchw = self.plain(x), False
        onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]])
        y = self.node1("Pad", [data, self.const(onnx_pads, self.tname(pads_index))], self.out_base(op))
        self.set_out(out, y, nchw)

    def _binary(self, op, op_type: str, options_class) -> None:
        (a, b), (out,) = self.ins(op), self.outs(op)
        fused = _options(op, options_class).FusedActivationFunction() if op.BuiltinOptions() else 0
        out_rank = len(self.shape(out))
        variable = [i for i in (a, b) if i not in self.consts]
        use_nchw = out_rank == 4 and any(self.values[i].nchw for i in variable)
        args = []
        for i in (a, b):
            if i in self.consts:
                array = self.consts[i]
                if use_nchw:
                    array = array.reshape((1,) * (4 - array.ndim) + array.shape).transpose(_NHWC_TO_NCHW)
                args.append(self.const(array, self.tname(i)))
            else:
                args.append(self.nchw(i) if use_nchw else self.plain(i))
        base = self.out_base(op)
        y = self.node1(op_type, args, base if fused == 0 else base + "/raw")
        self.set_out(out, self.activation(y, fused, base), use_nchw)

    def _op_ADD(self, op) -> None:
        self._binary(op, "Add", tflite.AddOptions)

    def _op_MUL(self, op) -> None:
        self._binary(op, "Mul", tflite.MulOptions)

    def _op_RESHAPE(self, op) -> None:
        inputs, (out,) = self.ins(op), self.outs(op)
        shape = np.array(self.shape(out), np.int64)
        y = self.node1("Reshape", [self.plain(inputs[0]), self.const(shape, self.out_base(op) + "/shape")],
                       self.out_base(op))
        self.set_out(out, y, False)

    def _op_CONCATENATION(self, op) -> None:
        inputs, (out,) = self.ins(op), self.outs(op)
        options = _options(op, tflite.ConcatenationOptions)
        rank = len(self.shape(out))
        axis = options.Axis() % rank
        use_nchw = rank == 4 and all(i not in self.consts and self.values[i].nchw for i in inputs)
        if use_nchw:
            args, axis = [self.nchw(i) for i in inputs], _NHWC_AXIS_IN_NCHW[axis]
        else:
            args = [self.plain(i) for i in inputs]
        y = self.node1("Concat", args, self.out_base(op), axis=axis)
        self.set_out(out, self.activation(y, options.FusedActivationFunction(), self.out_base(op)), use_nchw)

    def _op_STRIDED_SLICE(self, op) -> None:
        (x, begin_i, end_i, strides_i), (out,) = self.ins(op), self.outs(op)
        options = _options(op, tflite.StridedSliceOptions)
        if options.EllipsisMask() or options.NewAxisMask() or options.ShrinkAxisMask() or options.Offset():
            raise ConversionError("STRIDED_SLICE with ellipsis/new-axis/shrink/offset")
        begin = self.consts[begin_i].astype(np.int64).copy()
        end = self.consts[end_i].astype(np.int64).copy()
        strides = self.consts[strides_i].astype(np.int64)
        shape = self.shape(x)
        for axis in range(len(begin)):
            if options.BeginMask() & (1 << axis):
                begin[axis] = 0 if strides[axis] > 0 else shape[axis] - 1
            if options.EndMask() & (1 << axis):
                end[axis] = shape[axis] if strides[axis] > 0 else -shape[axis] - 1
        base = self.out_base(op)
        y = self.node1("Slice", [self.plain(x), self.const(begin, base + "/begin"), self.const(end, base + "/end"),
                                 self.const(np.arange(len(begin), dtype=np.int64), base + "/axes"),
                                 self.const(strides, base + "/strides")], base)
        self.set_out(out, y, False)

    def _op_RESIZE_BILINEAR(self, op) -> None:
        (x, size_i), (out,) = self.ins(op), self.outs(op)
        options = _options(op, tflite.ResizeBilinearOptions)
        if options.AlignCorners():
            mode = "align_corners"
        elif options.HalfPixelCenters():
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        n, _, _, c = self.shape(x)
        height, width = (int(v) for v in self.consts[size_i])
        sizes = np.array([n, c, height, width], np.int64)
        base = self.out_base(op)
        y = self.node1("Resize", [self.nchw(x), "", "", self.const(sizes, base + "/sizes")], base,
                       mode="linear", coordinate_transformation_mode=mode)
        self.set_out(out, y, True)

    def _op_DEPTH_TO_SPACE(self, op) -> None:
        (x,), (out,) = self.ins(op), self.outs(op)
        block = _options(op, tflite.DepthToSpaceOptions).BlockSize()
        # TFLite's channel order matches ONNX's DCR mode.
        y = self.node1("DepthToSpace", [self.nchw(x)], self.out_base(op), blocksize=block, mode="DCR")
        self.set_out(out, y, True)

    def _unary(self, op, op_type: str) -> None:
        """An elementwise op that keeps its input's layout."""
        (x,), (out,) = self.ins(op), self.outs(op)
        nchw = self.values[x].nchw
        self.set_out(out, self.node1(op_type, [self.nchw(x) if nchw else self.plain(x)], self.out_base(op)), nchw)

    def _op_LOGISTIC(self, op) -> None:
        self._unary(op, "Sigmoid")

    def _op_HARD_SWISH(self, op) -> None:
        self._unary(op, "HardSwish")  # x * relu6(x + 3) / 6, as TFLite's

    def _op_AVERAGE_POOL_2D(self, op) -> None:
        options = _options(op, tflite.Pool2DOptions)
        (x,), (out,) = self.ins(op), self.outs(op)
        _, height, width, _ = self.shape(x)
        base = self.out_base(op)
        fused = options.FusedActivationFunction()
        raw = base if fused == 0 else base + "/pool"
        if options.Padding() == 1 and (options.FilterHeight(), options.FilterWidth()) == (height, width):
            y = self.node1("GlobalAveragePool", [self.nchw(x)], raw)
        elif options.Padding() == 1:
            y = self.node1("AveragePool", [self.nchw(x)], raw, **_pool_attributes(options, height, width))
        else:  # TFLite's SAME average pool divides by the number of pixels inside the input
            y = self.node1("AveragePool", [self.nchw(x)], raw, count_include_pad=0,
                           **_pool_attributes(options, height, width))
        self.set_out(out, self.activation(y, fused, base), True)

    def _op_MEAN(self, op) -> None:
        (x, axes_index), (out,) = self.ins(op), self.outs(op)
        axes = sorted(int(a) % len(self.shape(x)) for a in self.consts[axes_index].reshape(-1))
        keep = _options(op, tflite.ReducerOptions).KeepDims()
        base = self.out_base(op)
        if len(self.shape(x)) == 4 and axes == [1, 2]:
            if keep:
                self.set_out(out, self.node1("GlobalAveragePool", [self.nchw(x)], base), True)
            else:
                pooled = self.node1("GlobalAveragePool", [self.nchw(x)], base + "/pool")
                self.set_out(out, self.node1("Flatten", [pooled], base, axis=1), False)
            return
        y = self.node1("ReduceMean", [self.plain(x)], base, axes=axes, keepdims=int(bool(keep)))
        self.set_out(out, y, False)

    def _op_FULLY_CONNECTED(self, op) -> None:
        inputs, (out,) = self.ins(op), self.outs(op)
        options = _options(op, tflite.FullyConnectedOptions)
        if options.WeightsFormat() != 0 or inputs[1] not in self.consts:
            raise ConversionError("FULLY_CONNECTED with shuffled or non-constant weights")
        weight = self.consts[inputs[1]]  # [units, depth]
        base = self.out_base(op)
        x = self.plain(inputs[0])
        if len(self.shape(inputs[0])) != 2:
            x = self.node1("Reshape", [x, self.const(np.array([-1, weight.shape[1]], np.int64), base + "/rows")],
                           base + "/flat")
        args = [x, self.const(weight, self.tname(inputs[1]))]
        if len(inputs) > 2 and inputs[2] >= 0:
            args.append(self.const(self.consts[inputs[2]], self.tname(inputs[2])))
        fused = options.FusedActivationFunction()
        y = self.node1("Gemm", args, base if fused == 0 else base + "/gemm", transB=1)
        y = self.activation(y, fused, base)
        if len(self.shape(out)) != 2:
            y = self.node1("Reshape", [y, self.const(np.array(self.shape(out), np.int64), base + "/shape")],
                           base + "/out")
        self.set_out(out, y, False)

    # ----- MediaPipe custom ops (attention landmark model) -----------------------------

    def _custom_options(self, op) -> dict:
        return flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy()))

    def _custom_Convolution2DTransposeBias(self, op) -> None:
        """Transposed convolution plus bias (selfie segmentation's upsampler) as ConvTranspose.

        Its options are three raw int32: padding (TfLitePadding: 1 SAME, 2 VALID), stride w, h.
        The weight is OHWI; ConvTranspose wants (in, out, kh, kw).
        """
        (x, weight_index, bias_index), (out,) = self.ins(op), self.outs(op)
        padding, stride_w, stride_h = (int(v) for v in np.frombuffer(bytes(op.CustomOptionsAsNumpy())[:12], "<i4"))
        weight = self.consts[weight_index]
        _, kh, kw, _ = weight.shape
        _, in_h, in_w, _ = self.shape(x)
        _, out_h, out_w, _ = self.shape(out)
        pads = []
        for size, out_size, kernel, stride in ((in_h, out_h, kh, stride_h), (in_w, out_w, kw, stride_w)):
            total = (size - 1) * stride + kernel - out_size if padding == 1 else 0
            if total < 0:
                raise ConversionError("Convolution2DTransposeBias with an output larger than its input allows")
            pads.append((total // 2, total - total // 2))
        args = [self.nchw(x), self.const(weight.transpose(3, 0, 1, 2), self.tname(weight_index)),
                self.const(self.consts[bias_index].reshape(-1), self.tname(bias_index))]
        y = self.node1("ConvTranspose", args, self.out_base(op), kernel_shape=[kh, kw],
                       strides=[stride_h, stride_w], pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]])
        self.set_out(out, y, True)

    def _custom_Landmarks2TransformMatrix(self, op) -> None:
        """4x4 affine from a patch onto a rotated, scaled box around a landmark subset.

        Rotation r = target - angle(left -> right landmark); the subset is rotated by r, its
        box (min/max) gives size and centre, the centre is rotated back. Output matrix:
        shift(centre) * rot(-r) * scale(scale * size / out) * shift(-out / 2). cos r and sin r
        come straight from the normalised left->right vector, so no atan2 is needed.
        All such ops on same-shaped landmarks are computed together, stacked along the batch
        axis (subsets padded by repeating an index, which leaves min and max unchanged).
        """
        (landmarks,), (out,) = self.ins(op), self.outs(op)
        if out in self.values:
            return  # computed together with an earlier op of its group
        if len(self.shape(landmarks)) != 3:
            raise ConversionError("Landmarks2TransformMatrix v1 (4D input) is not supported")
        group = [(landmarks, out, self._custom_options(op))]
        for later in range(self._op_index + 1, self.graph.OperatorsLength()):
            other = self.graph.Operators(later)
            if self.model.OperatorCodes(other.OpcodeIndex()).CustomCode() != b"Landmarks2TransformMatrix":
                continue
            (other_in,), (other_out,) = self.ins(other), self.outs(other)
            if other_in in self.values and self.shape(other_in) == self.shape(landmarks):
                group.append((other_in, other_out, self._custom_options(other)))
        lanes = len(group)
        _, count, dims = self.shape(landmarks)
        base = self.out_base(op) + "/stack"
        f32, i64 = np.float32, np.int64

        def c(array, suffix):
            return self.const(np.asarray(array), f"{base}/{suffix}")

        subsets = [sorted(set(int(i) for i in o["subset_idxs"])) for _, _, o in group]
        width = max(len(subset) for subset in subsets)
        indices = np.array([[int(o["left_rotation_idx"]), int(o["right_rotation_idx"])]
                            + subset + [subset[0]] * (width - len(subset))
                            for (_, _, o), subset in zip(group, subsets)], i64)
        indices += np.arange(lanes, dtype=i64)[:, None] * count                         # rows of the flat stack
        sizes = np.array([[float(o["output_width"]), float(o["output_height"])] for _, _, o in group], f32)
        mixes, scales = [], []
        for (_, _, o), size in zip(group, sizes):
            t = float(o.get("target_rotation_radians", 0.0))
            # (cos a, sin a) -> rows of rot_t = [[cos r, sin r], [-sin r, cos r]] with r = t - a, flattened
            mix = np.array([[math.cos(t), math.sin(t)], [math.sin(t), -math.cos(t)]])
            mixes.append(np.concatenate([mix, mix @ np.array([[0, 1], [-1, 0]])], axis=1))
            scales.append(np.array([o["scale_x"], o["scale_y"]]) / size)
        stacked = [self.plain(lm) for lm, _, _ in group]
        stacked = stacked[0] if lanes == 1 else self.node1("Concat", stacked, base + "/landmarks", axis=0)
        flat = self.node1("Reshape", [stacked, c(np.array([lanes * count, dims], i64), "flat")], base + "/flat")
        chosen = self.node1("Gather", [flat, c(indices, "indices")], base + "/chosen", axis=0)   # [G,2+K,D]
        xy = self.node1("Slice", [chosen, c(np.array([0], i64), "x0"), c(np.array([2], i64), "x1"),
                                  c(np.array([2], i64), "xax")], base + "/xy")
        pick = np.zeros((1, 1, 2 + width), f32)
        pick[0, 0, :2] = (-1, 1)
        delta = self.node1("MatMul", [c(pick, "pick"), xy], base + "/delta")             # right - left
        length = self.node1("Sqrt", [self.node1("ReduceSumSquare", [delta], base + "/len2", axes=[2],
                                                keepdims=1)], base + "/len")
        length = self.node1("Max", [length, c(np.array([1e-20], f32), "tiny")], base + "/lensafe")
        unit = self.node1("Div", [delta, length], base + "/unit")                       # (cos a, sin a)
        rot_flat = self.node1("MatMul", [unit, c(np.stack(mixes).astype(f32), "mix")], base + "/rot_flat")
        rot_t = self.node1("Reshape", [rot_flat, c(np.array([lanes, 2, 2], i64), "rshape")], base + "/rot_t")
        points = self.node1("Slice", [xy, c(np.array([2], i64), "p0"), c(np.array([2 + width], i64), "p1"),
                                      c(np.array([1], i64), "pax")], base + "/subset")
        rotated = self.node1("MatMul", [points, rot_t], base + "/rotated")
        low = self.node1("ReduceMin", [rotated], base + "/min", axes=[1], keepdims=1)
        high = self.node1("ReduceMax", [rotated], base + "/max", axes=[1], keepdims=1)
        size = self.node1("Sub", [high, low], base + "/size")
        middle = self.node1("Mul", [self.node1("Add", [high, low], base + "/sum"), c(np.array([0.5], f32), "half")],
                            base + "/middle")
        rot_back = self.node1("Transpose", [rot_t], base + "/rot_back", perm=[0, 2, 1])
        centre = self.node1("MatMul", [middle, rot_back], base + "/centre")             # [G,1,2]
        k = self.node1("Mul", [size, c(np.stack(scales)[:, None].astype(f32), "scale")], base + "/k")
        linear = self.node1("Mul", [rot_t, k], base + "/linear")                         # rot(-r) * diag(k)
        linear_t = self.node1("Transpose", [linear], base + "/linear_t", perm=[0, 2, 1])
        shift = c((-sizes / 2)[:, None], "shift")                                        # [G,1,2]
        translation = self.node1("Add", [self.node1("MatMul", [shift, linear_t], base + "/shifted"), centre],
                                 base + "/translation")
        column = self.node1("Transpose", [translation], base + "/tcol", perm=[0, 2, 1])  # [G,2,1]
        top = self.node1("Concat", [linear, c(np.zeros((lanes, 2, 1), f32), "zcol"), column], base + "/top", axis=2)
        bottom = c(np.tile(np.array([[[0, 0, 1, 0], [0, 0, 0, 1]]], f32), (lanes, 1, 1)), "bottom")
        if lanes == 1:
            self.set_out(out, self.node1("Concat", [top, bottom], self.tname(out), axis=1), False)
            return
        matrices = self.node1("Concat", [top, bottom], base + "/matrices", axis=1)      # [G,4,4]
        axis = c(np.array([0], i64), "lax")
        for lane, (_, lane_out, _) in enumerate(group):
            y = self.node1("Slice", [matrices, c(np.array([lane], i64), f"b{lane}"),
                                     c(np.array([lane + 1], i64), f"e{lane}"), axis], self.tname(lane_out))
            self.set_out(lane_out, y, False)
            self._stacked_matrices[lane_out] = (matrices, lane, lanes)

    def _affine_rows(self, matrix_index: int, base: str) -> str:
        """[1,4,2]: the transpose of the first two rows of a [1,4,4] matrix."""
        return self._affine_rows_named(self.plain(matrix_index), base)

    def _affine_rows_named(self, matrix: str, base: str) -> str:
        """[G,4,2]: the transposes of the first two rows of [G,4,4] matrices."""
        rows = self.node1("Slice", [matrix, self.const(np.array([0], np.int64), base + "/r0"),
                                    self.const(np.array([2], np.int64), base + "/r1"),
                                    self.const(np.array([1], np.int64), base + "/rax")], base + "/rows")
        return self.node1("Transpose", [rows], base + "/rows_t", perm=[0, 2, 1])

    def _custom_TransformTensorBilinear(self, op) -> None:
        """Bilinear sampling through the matrix at pixel centres, zero outside the input.

        All such ops that sample the same input into same-sized patches become one GridSample:
        their sampling grids are stacked along the grid's height and the patches are sliced
        back out of its (NCHW) result. Points outside the input are moved far outside, so all
        four of their neighbours fall in GridSample's zero padding, as the op wants.
        """
        (x, matrix), (out,) = self.ins(op), self.outs(op)
        if out in self.values or out in self._lane_of:
            return  # sampled together with an earlier op of its group
        _, in_h, in_w, channels = self.shape(x)
        _, out_h, out_w, _ = self.shape(out)
        group = [(matrix, out)]
        for later in range(self._op_index + 1, self.graph.OperatorsLength()):
            other = self.graph.Operators(later)
            code = self.model.OperatorCodes(other.OpcodeIndex())
            if code.CustomCode() != b"TransformTensorBilinear":
                continue
            (other_x, other_matrix), (other_out,) = self.ins(other), self.outs(other)
            if other_x == x and other_matrix in self.values and self.shape(other_out) == self.shape(out):
                group.append((other_matrix, other_out))
        count = out_h * out_w
        base = self.out_base(op) + "/grid"
        f32 = np.float32

        def c(array, suffix):
            return self.const(np.asarray(array), f"{base}/{suffix}")

        stacks = [self._stacked_matrices.get(m) for m, _ in group]
        if all(entry is not None and entry[0] == stacks[0][0] and entry[1:] == (lane, len(group))
               for lane, entry in enumerate(stacks)):
            stacked = stacks[0][0]  # the matrices were computed stacked in this order already
        elif len(group) == 1:
            stacked = self.plain(group[0][0])
        else:
            stacked = self.node1("Concat", [self.plain(m) for m, _ in group], base + "/matrices", axis=0)
        rows_t = self._affine_rows_named(stacked, base)                                  # [G,4,2]
        ys, xs = np.meshgrid(np.arange(out_h, dtype=f32), np.arange(out_w, dtype=f32), indexing="ij")
        homogeneous = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.zeros(count, f32),
                                np.ones(count, f32)], axis=1)[None]
        # Input pixel centres sit at integer + 0.5 here, which is GridSample's convention
        # (align_corners=0) once divided by the size; normalised to [-1, 1] below.
        points = self.node1("MatMul", [c(homogeneous, "pixels"), rows_t], base + "/points")  # [G,N,2]
        size = np.array([in_w, in_h], f32)
        normal = self.node1("Sub", [self.node1("Mul", [points, c(2 / size, "scale")], base + "/scaled"),
                                    c(np.array([1], f32), "one")], base + "/normal")
        # Inside means 0 <= pixel coordinate <= size - 1, i.e. |normal| <= 1 - 1/size.
        outside = self.node1("Greater", [self.node1("Abs", [normal], base + "/abs"), c(1 - 1 / size, "limit")],
                             base + "/outside")
        far = self.node1("Where", [outside, c(np.array([4], f32), "far"), normal], base + "/far")
        grid = self.node1("Reshape", [far, c(np.array([1, len(group) * out_h, out_w, 2], np.int64), "shape")],
                          base + "/grid")
        sampled = self.node1("GridSample", [self.nchw(x), grid], base + "/sampled", mode="bilinear",
                             padding_mode="zeros", align_corners=0)                     # [1,C,G*H,W]
        if len(group) == 1:
            self.set_out(out, sampled, True)
            return
        # [1,C,G*H,W] -> [1,G*C,H,W]: the patches become lanes, so that the branches that
        # process them can run merged (see _merge_lanes).
        lanes = len(group)
        split = self.node1("Reshape", [sampled, c(np.array([1, channels, lanes, out_h, out_w], np.int64), "split")],
                           base + "/split")
        moved = self.node1("Transpose", [split], base + "/moved", perm=[0, 2, 1, 3, 4])
        merged = self.node1("Reshape", [moved, c(np.array([1, lanes * channels, out_h, out_w], np.int64), "lanes")],
                            base + "/lanes")
        self._bundle_lanes(merged, channels, [patch for _, patch in group])
        for _, patch in group:
            self._unbundle(patch)  # the patches keep their TFLite names (for checks against TFLite)

    def _custom_TransformLandmarks(self, op) -> None:
        """2D points through the matrix's first two rows: [x, y, 0, 1] times their transpose."""
        (points, matrix), (out,) = self.ins(op), self.outs(op)
        shape = self.shape(points)
        if len(shape) != 3 or shape[2] != 2:
            raise ConversionError("TransformLandmarks other than v2 with 2D points")
        base = self.out_base(op)
        if matrix not in self._rows_cache:  # ops that share a matrix share its rows
            self._rows_cache[matrix] = self._affine_rows(matrix, base)                   # [1,4,2]
        tail = np.tile(np.array([0, 1], np.float32), (shape[0], shape[1], 1))
        homogeneous = self.node1("Concat", [self.plain(points), self.const(tail, base + "/zw")], base + "/xyzw",
                                 axis=2)
        self.set_out(out, self.node1("MatMul", [homogeneous, self._rows_cache[matrix]], base), False)


def _index_vector(kind: int, table) -> np.ndarray:
    """A sparsity segments/indices vector (a flatbuffer union of int32/uint16/uint8 vectors)."""
    vector = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]()
    vector.Init(table.Bytes, table.Pos)
    return vector.ValuesAsNumpy()


def _densify(values: np.ndarray, sparsity, dense_shape: list[int]) -> np.ndarray:
    """Expand a TFLite sparse constant (traversal order, block map, DENSE/CSR dims) to dense."""
    traversal = [int(v) for v in sparsity.TraversalOrderAsNumpy()]
    block_map = [int(v) for v in sparsity.BlockMapAsNumpy()] if sparsity.BlockMapLength() else []
    dims = [sparsity.DimMetadata(i) for i in range(sparsity.DimMetadataLength())]
    rank = len(dense_shape)
    # Size of each dimension of the expanded (blocked) shape, in traversal order.
    expanded_sizes = []
    for level, dim_index in enumerate(traversal):
        if dim_index < rank:
            block_of = block_map.index(dim_index) if dim_index in block_map else None
            size = dense_shape[dim_index]
            if block_of is not None:
                size //= dims[rank + block_of].DenseSize()
            expanded_sizes.append(size)
        else:
            expanded_sizes.append(dims[level].DenseSize())
    dense = np.zeros(dense_shape, dtype=values.dtype)
    coords = [0] * len(traversal)
    cursor = [0]

    def segments_and_indices(dim):
        return (_index_vector(dim.ArraySegmentsType(), dim.ArraySegments()),
                _index_vector(dim.ArrayIndicesType(), dim.ArrayIndices()))

    cache = {}

    def place():
        index = [0] * rank
        for level, dim_index in enumerate(traversal):
            if dim_index < rank:
                block_of = block_map.index(dim_index) if dim_index in block_map else None
                block = dims[rank + block_of].DenseSize() if block_of is not None else 1
                index[dim_index] += coords[level] * block
            else:
                index[block_map[dim_index - rank]] += coords[level]
        dense[tuple(index)] = values[cursor[0]]
        cursor[0] += 1

    def walk(level: int, parent: int) -> None:
        if level == len(traversal):
            place()
            return
        dim = dims[level]
        if dim.Format() == 0:  # DENSE
            for i in range(expanded_sizes[level]):
                coords[level] = i
                walk(level + 1, parent * expanded_sizes[level] + i)
        else:  # SPARSE_CSR
            if level not in cache:
                cache[level] = segments_and_indices(dim)
            segments, indices = cache[level]
            for position in range(int(segments[parent]), int(segments[parent + 1])):
                coords[level] = int(indices[position])
                walk(level + 1, position)

    walk(0, 0)
    if cursor[0] != values.size:
        raise ConversionError("sparse tensor did not expand to all of its values")
    return dense


def convert(data: bytes, graph_name: str, channel_block: int = 0) -> onnx.ModelProto:
    """Convert one TFLite flatbuffer to a checked ONNX model (channel_block: see pad_channels)."""
    model = _Converter(data).convert(graph_name)
    if channel_block > 1:
        pad_channels(model, channel_block)
        onnx.checker.check_model(model)
    return model


_CHANNELWISE_OPS = ("Relu", "MaxPool", "Add")


def pad_channels(model: onnx.ModelProto, block: int) -> dict[str, int]:
    """Widen activations whose channel count is not a multiple of `block` with zero channels.

    ONNX Runtime runs convolutions and pools in its blocked layout (NCHWc, 16 channels a block
    with AVX-512) only when a pool's or depthwise convolution's channels fill whole blocks; on
    others it falls back to plain kernels and reorders in and out (BlazeFace's 28, 42 and 88
    channel stages: ~12% of the short-range detector's time). A group of activations tied
    together (by Add, Relu, MaxPool or a depthwise Conv, which keep channels) and made and read
    only by such ops and Convs is padded: the Convs that make it get zero filters and biases
    (their extra outputs are exactly 0, and stay 0 through Relu, MaxPool and Add), the Convs
    that read it zero weights for the extra channels. Graph inputs and outputs keep their
    shapes; the real channels' values change only by float summation order. Returns the
    padded channel count of each group, keyed by one of its tensors.
    """
    g = model.graph
    initializers = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def constant(name: str):
        """The initializer behind `name` through Casts (float16 weights), or None."""
        node = producer.get(name)
        while node is not None and node.op_type == "Cast":
            name = node.input[0]
            node = producer.get(name)
        return initializers.get(name)

    def group_of(node) -> int:
        return next((a.i for a in node.attribute if a.name == "group"), 1)

    def depthwise(node) -> bool:
        return group_of(node) > 1 and numpy_helper.to_array(constant(node.input[1])).shape[1] == 1

    parent: dict[str, str] = {}

    def root(name: str) -> str:
        parent.setdefault(name, name)
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    activations: set[str] = set()
    for n in g.node:
        if n.op_type in _CHANNELWISE_OPS:
            for i in n.input:
                if constant(i) is None:
                    parent[root(i)] = root(n.output[0])
                    activations.add(i)
            activations.add(n.output[0])
        elif n.op_type == "Conv":
            activations.update((n.input[0], n.output[0]))
            if depthwise(n):
                parent[root(n.input[0])] = root(n.output[0])
    boundary = {v.name for v in g.input} | {v.name for v in g.output}
    allowed = set(_CHANNELWISE_OPS) | {"Conv"}
    paddable: dict[str, bool] = {}
    for name in sorted(activations):
        fits = (name not in boundary and name in producer and producer[name].op_type in allowed
                and all(c.op_type in allowed and (c.op_type != "Conv" or c.input[0] == name)
                        for c in consumers.get(name, [])))
        paddable[root(name)] = paddable.get(root(name), True) and fits
    channels = {root(n.output[0]): numpy_helper.to_array(constant(n.input[1])).shape[0]
                for n in g.node if n.op_type == "Conv"}
    padded = {r: -(-c // block) * block for r, c in channels.items()
              if paddable.get(r) and c % block}

    def widen(initializer, axis: int, size: int) -> None:
        array = numpy_helper.to_array(initializer)
        shape = list(array.shape)
        shape[axis] = size
        wide = np.zeros(shape, array.dtype)
        wide[tuple(slice(0, d) for d in array.shape)] = array
        initializer.CopyFrom(numpy_helper.from_array(wide, initializer.name))

    for n in g.node:
        if n.op_type != "Conv":
            continue
        out_c, in_c = padded.get(root(n.output[0])), padded.get(root(n.input[0]))
        weight = constant(n.input[1])
        array = numpy_helper.to_array(weight)
        if (len(n.input) == 2 and group_of(n) == 1 and _embeds_leading_channels(array)
                and (out_c or array.shape[0]) == (in_c or array.shape[1])):
            # A channel padding (_op_PAD) whose input and output are now equally wide: it
            # passes the input on unchanged (the extra channels are 0 on both sides). As a 1x1
            # depthwise Conv with unit weights its C x C multiply-adds a pixel become C, with
            # bit-identical results (each output is 1 x one input either way).
            width = out_c or array.shape[0]
            weight.CopyFrom(numpy_helper.from_array(np.ones((width, 1, 1, 1), array.dtype), weight.name))
            n.attribute.append(helper.make_attribute("group", width))
            continue
        if out_c is not None:
            widen(weight, 0, out_c)
            if len(n.input) > 2:
                widen(constant(n.input[2]), 0, out_c)
            if depthwise(n):
                next(a for a in n.attribute if a.name == "group").i = out_c
        if in_c is not None and not depthwise(n):
            widen(weight, 1, in_c)
    del g.value_info[:]  # shapes inside the graph changed
    return {min(t for t in activations if root(t) == r): c for r, c in sorted(padded.items())}


def _embeds_leading_channels(weight: np.ndarray) -> bool:
    """Whether a 1x1 Conv weight [out, in, 1, 1] copies its `in` channels to the first `in`
    outputs and makes the rest 0 (a channel padding at the end, as _op_PAD writes it)."""
    out_c, in_c = weight.shape[:2]
    return (weight.shape[2:] == (1, 1) and out_c >= in_c
            and np.array_equal(weight[:, :, 0, 0], np.eye(out_c, in_c, dtype=weight.dtype)))


def to_bytes(model: onnx.ModelProto) -> bytes:
    """Serialize deterministically (same model, same bytes)."""
    return model.SerializeToString(deterministic=True)

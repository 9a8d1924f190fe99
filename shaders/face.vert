#version 330 core
// The tracked face mesh, already in camera space (cm). Shared by the occluder and face
// paint so both produce bit-identical depths.
in vec3 in_position;
in vec2 in_uv;
uniform mat4 u_projection;
out vec2 v_uv;
invariant gl_Position;

void main() {
    v_uv = in_uv;
    gl_Position = u_projection * vec4(in_position, 1.0);
}

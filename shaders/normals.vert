#version 330 core
// The tracked face mesh (camera space, cm) with per-vertex normals for the normals debug view.
in vec3 in_position;
in vec3 in_normal;
uniform mat4 u_projection;
out vec3 v_normal;
invariant gl_Position;

void main() {
    v_normal = in_normal;
    gl_Position = u_projection * vec4(in_position, 1.0);
}

#version 330 core
// The tracked face mesh (camera space, cm) for the contact shadow: same positions and
// projection as the occluder, so '<=' passes exactly on the visible face.
in vec3 in_position;
uniform mat4 u_projection;
out vec3 v_position;
invariant gl_Position;

void main() {
    v_position = in_position;
    gl_Position = u_projection * vec4(in_position, 1.0);
}

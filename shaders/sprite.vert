#version 330 core
// Burst sprites (arfx.effects.object3d.BurstPass): camera-space corners, projected.
in vec3 in_position;
in vec2 in_uv;
uniform mat4 u_projection;
out vec2 v_uv;

void main() {
    v_uv = in_uv;
    gl_Position = u_projection * vec4(in_position, 1.0);
}

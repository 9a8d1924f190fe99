#version 330 core
// A full-frame quad (frame pixels) at one depth: where the person mask says "person", the
// fragment shader keeps it, writing the person's depth as an occluder.
in vec2 in_position;
uniform mat4 u_matrix;
uniform vec2 u_size;
uniform float u_depth;  // normalised device z of the person
out vec2 v_uv;

void main() {
    v_uv = in_position / u_size;
    gl_Position = u_matrix * vec4(in_position, 0.0, 1.0);
    gl_Position.z = u_depth * gl_Position.w;
}

#version 330 core
// An image laid over the frame: positions in frame pixels (u_matrix: pixels -> clip space,
// mirroring included), texture coordinates from the pixel position (row 0 = the image's top).
in vec2 in_position;
uniform mat4 u_matrix;
uniform vec2 u_size;
out vec2 v_uv;

void main() {
    v_uv = in_position / u_size;
    gl_Position = u_matrix * vec4(in_position, 0.0, 1.0);
}

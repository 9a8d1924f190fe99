#version 330 core
// The on-screen interface: one quad over the picture's viewport, textured with the text
// image drawn on the CPU (row 0 of the texture is the image's top row).
in vec2 in_position;
out vec2 v_uv;

void main() {
    v_uv = vec2(in_position.x * 0.5 + 0.5, 0.5 - in_position.y * 0.5);
    gl_Position = vec4(in_position, 0.0, 1.0);
}

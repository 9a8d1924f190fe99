#version 330 core
// The tracked face mesh (camera space, cm) for the contact shadow, with each vertex's
// darkness (arfx.render.contact); same positions and projection as the occluder, so '<='
// passes exactly on the visible face.
in vec3 in_position;
in float in_shade;
uniform mat4 u_projection;
out float v_shade;
invariant gl_Position;

void main() {
    v_shade = in_shade;
    gl_Position = u_projection * vec4(in_position, 1.0);
}
